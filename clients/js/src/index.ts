export { createClient, type CreateClientOptions } from './create.js';
export { TabClient, type TabLocks, type TabChannel, type CrossTabOptions } from './crossTab.js';
export { WorkerTabClient, type SharedWorkerOptions, type WorkerPort, type WorkerHandle } from './sharedWorker.js';
export { SharedWorkerHub, serveSharedWorker } from './sharedWorkerHub.js';
export {
  SwitchboardClient,
  type SwitchboardClientLike,
  PublishQueueFullError,
  PublishTimeoutError,
  TokenTimeoutError,
  ClientClosedError,
  NotConnectedError,
  type PresenceAndSignals,
  type PresencePage,
  type HistoryOptions,
  type HistoryPage,
  type ClientOptions,
  type ClientEnvironment,
  type ClientStats,
  type ConnectionState,
  type PublishOptions,
  type PublishResult,
  type ReceiptRecord,
  type SubscribeOptions,
  type Subscription,
} from './client.js';
export type {
  Publication,
  ResetEvent,
  SubscriptionListener,
  SubscriptionState,
  PresenceMember,
  PresenceState,
  Signal,
  Receipt,
} from './subscriptions.js';
export {
  SwitchboardError,
  ErrorCode,
  adviceForCloseCode,
  type CloseAdvice,
  type Command,
  type Reply,
  type Push,
  type ServerMessage,
  type StreamPosition,
} from './protocol.js';
export type {
  Transport,
  TransportContext,
  TransportFactory,
  TransportHandlers,
  TransportCloseEvent,
  TransportName,
} from './transport.js';
export { TypingIndicator, typingIndicator, type Typist, type TypingOptions, type TypingClient } from './typing.js';
export { toJson, binaryOf, toBase64, fromBase64, type WireFormat } from './wire.js';
export { websocketTransport } from './transports/websocket.js';
export { sseTransport } from './transports/sse.js';
export { pollTransport } from './transports/poll.js';
export { SseParser, type SseEvent } from './transports/sseParser.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { realTimers, type Timers, type TimerHandle } from './timers.js';
export type { Logger } from './log.js';
