// An example Redux-style store for a chat room, wired to Switchboard with `switchboardMiddleware`. Debian has no
// `redux` package, so `createStore`/`applyMiddleware` below are the minimal standard versions (same contracts as
// Redux's): with Redux installed, import them from 'redux' instead and the rest stays the same.

import { switchboardMiddleware, switchboardActions, switchboardActionTypes } from '@switchboard/react';

export function createStore(reducer, enhancer) {
  if (enhancer) return enhancer(createStore)(reducer);
  let state = reducer(undefined, { type: '@@init' });
  const listeners = new Set();
  return {
    getState: () => state,
    dispatch(action) {
      state = reducer(state, action);
      for (const listener of [...listeners]) listener();
      return action;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function applyMiddleware(...middlewares) {
  return (create) => (reducer) => {
    const store = create(reducer);
    let dispatch = () => {
      throw new Error('dispatching while constructing middleware');
    };
    const api = { getState: store.getState, dispatch: (action) => dispatch(action) };
    dispatch = middlewares.map((middleware) => middleware(api)).reduceRight((next, wrap) => wrap(next), store.dispatch);
    return { ...store, dispatch };
  };
}

const types = switchboardActionTypes();
const actions = switchboardActions();

/**
 * The room's state: the connection banner, confirmed messages by offset (each once, in order) and messages still
 * being sent (optimistic, shown greyed out until the server stored them, or marked failed).
 */
export function chatReducer(state = { connection: 'connecting', messages: [], pending: [] }, action) {
  switch (action.type) {
    case types.state:
      return { ...state, connection: action.state.status };
    case types.publication:
      return { ...state, messages: [...state.messages, { offset: action.publication.offset, ...action.publication.data }] };
    case types.reset:
      return { ...state, messages: [], needsReload: true };
    case types.publish:
      return { ...state, pending: [...state.pending, { id: action.request.requestId, ...action.request.data, failed: false }] };
    case types.published:
      return { ...state, pending: state.pending.filter((message) => message.id !== action.request.requestId) };
    case types.publishFailed:
      return {
        ...state,
        pending: state.pending.map((message) => (message.id === action.request.requestId ? { ...message, failed: true } : message)),
      };
    default:
      return state;
  }
}

let localIds = 0;

/** The action a "send" button dispatches: an optimistic message and its publish. */
export function sendMessage(channel, text) {
  return actions.publish({ channel, data: { text }, requestId: `local-${++localIds}` });
}

export function createChatStore(client, channel) {
  const middleware = switchboardMiddleware({ client, channels: [channel] });
  const store = createStore(chatReducer, applyMiddleware(middleware));
  return { store, detach: middleware.detach };
}
