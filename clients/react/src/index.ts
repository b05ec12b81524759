export {
  SwitchboardProvider,
  useSwitchboardClient,
  useSwitchboardContext,
  type SwitchboardProviderProps,
  type SwitchboardContextValue,
} from './context.js';
export { FrameBatcher, defaultFrameScheduler, type FrameScheduler } from './frames.js';
export { FrameBatchedStore } from './store.js';
export { useConnectionState } from './hooks/connection.js';
export { useChannel, DEFAULT_MESSAGE_LIMIT, type UseChannelOptions, type ChannelSnapshot } from './hooks/channel.js';
export { usePublish } from './hooks/publish.js';
export { usePresence, usePresenceListener, type UsePresenceOptions } from './hooks/presence.js';
export { useHistory, type UseHistoryOptions, type HistorySnapshot } from './hooks/history.js';
export { useSwitchboardErrors, ConnectionError, type SwitchboardErrors } from './hooks/errors.js';
export { useSignal, useTyping, type TypingMember, type TypingSnapshot, type UseTypingOptions } from './hooks/signals.js';
export {
  useReceipts,
  applyReceipt,
  supportsReceipts,
  type ReceiptsSnapshot,
  type ReceiptRecord,
  type ReceiptRecipient,
  type ReceiptEvent,
  type ReceiptStatus,
  type ReceiptsCapableClient,
} from './hooks/receipts.js';
export {
  useWebSocket,
  useEventSource,
  parseJsonOrText,
  type RawSnapshot,
  type RawStatus,
  type UseWebSocketOptions,
  type WebSocketApi,
  type WebSocketHeartbeat,
  type WebSocketSendable,
  type UseEventSourceOptions,
  type EventSourceMessage,
} from './hooks/raw.js';
export {
  switchboardMiddleware,
  switchboardActions,
  switchboardActionTypes,
  type SwitchboardMiddleware,
  type SwitchboardMiddlewareOptions,
  type MiddlewareStore,
  type Action,
  type PublishRequest,
  type StateAction,
  type PublicationAction,
  type ResetAction,
  type PublishedAction,
  type PublishFailedAction,
} from './redux.js';
