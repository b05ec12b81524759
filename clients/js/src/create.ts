import { SwitchboardClient, type ClientOptions, type SwitchboardClientLike } from './client.js';
import { TabClient, crossTabAvailable, type CrossTabOptions } from './crossTab.js';
import { makeLogger } from './log.js';
import { WorkerTabClient, openSharedWorker, type SharedWorkerOptions } from './sharedWorker.js';

export interface CreateClientOptions extends ClientOptions, CrossTabOptions, SharedWorkerOptions {
  /**
   * Share one connection among the tabs of this origin: in a SharedWorker when `sharedWorker` gives the worker
   * script's URL, else by leader election (a Web Lock, BroadcastChannel between tabs). On by default; `false` opts
   * out; ignored where those APIs are missing (Node, old browsers).
   */
  shareAcrossTabs?: boolean;
}

export function createClient(options: CreateClientOptions): SwitchboardClientLike {
  if (options.shareAcrossTabs === false) return new SwitchboardClient(options);
  if (options.sharedWorker !== undefined) {
    try {
      return new WorkerTabClient(options, openSharedWorker(options));
    } catch (error) {
      const fallback = crossTabAvailable(options) ? 'cross-tab sharing' : 'a connection of its own';
      makeLogger(options.debug)(`shared worker unavailable (${String(error)}); falling back to ${fallback}`);
    }
  }
  if (crossTabAvailable(options)) return new TabClient(options);
  return new SwitchboardClient(options);
}
