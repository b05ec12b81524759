import { SwitchboardClient, type ClientOptions, type SwitchboardClientLike } from './client.js';
import { TabClient, crossTabAvailable, type CrossTabOptions } from './crossTab.js';

export interface CreateClientOptions extends ClientOptions, CrossTabOptions {
  /**
   * Share one connection among the tabs of this origin (leader election with a Web Lock, BroadcastChannel between
   * tabs). On by default; `false` opts out; ignored where those APIs are missing (Node, old browsers).
   */
  shareAcrossTabs?: boolean;
}

export function createClient(options: CreateClientOptions): SwitchboardClientLike {
  if (options.shareAcrossTabs !== false && crossTabAvailable(options)) return new TabClient(options);
  return new SwitchboardClient(options);
}
