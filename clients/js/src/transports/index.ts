import type { TransportFactory } from '../transport.js';
import { websocketTransport } from './websocket.js';
import { sseTransport } from './sse.js';
import { pollTransport } from './poll.js';

/** The transports a client can name in `transports: [...]`. */
export const BUILT_IN_TRANSPORTS: Record<string, TransportFactory> = {
  websocket: websocketTransport,
  sse: sseTransport,
  poll: pollTransport,
};
