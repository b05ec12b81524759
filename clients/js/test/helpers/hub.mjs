// One real server and a link-fault proxy in front of it for a whole test file, and the clients the file opens —
// closed after the file's tests.

import { before, after } from 'node:test';
import { createClient } from '../../dist/switchboard.mjs';
import { startServer } from './server.mjs';
import { startLinkFault } from '../../../../tools/linkfault/linkfault.mjs';

/** `prepare(hub)` runs once the server and proxy are up (before hooks of one file may run side by side). */
export function useHub({ settings = [], prepare } = {}) {
  const hub = { server: null, proxy: null, clients: [] };
  before(async () => {
    hub.server = await startServer({ settings });
    hub.proxy = await startLinkFault({ target: hub.server.url });
    await prepare?.(hub);
  });
  after(async () => {
    for (const client of hub.clients) client.close();
    await hub.proxy?.close();
    await hub.server?.stop();
  });
  // SSE and poll clients go through the proxy (one request per connection): in Node, their pooled fetch connections
  // would otherwise be reused by the WebSocket clients of this process for their upgrades, which the server refuses
  // with a 307 (see helpers/server.mjs). Browsers always open WebSockets on new connections.
  hub.open = (options = {}) => {
    const viaProxy = options.transports && !options.transports.includes('websocket');
    const client = createClient({ url: viaProxy ? hub.proxy.url : hub.server.url, environment: null, ...options });
    hub.clients.push(client);
    return client;
  };
  return hub;
}
