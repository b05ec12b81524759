// Loaded before the client bundle: counts the timers and event listeners that are alive in the page, so that a test
// can tell whether the client leaves any behind (after 1,000 subscribe/unsubscribe cycles, after close()).
(function () {
  'use strict';
  const liveTimers = new Set();
  const nativeSetTimeout = window.setTimeout.bind(window);
  const nativeClearTimeout = window.clearTimeout.bind(window);
  const nativeSetInterval = window.setInterval.bind(window);
  const nativeClearInterval = window.clearInterval.bind(window);
  let timersCreated = 0;
  window.setTimeout = function (callback, ms, ...args) {
    timersCreated++;
    const id = nativeSetTimeout(function () {
      liveTimers.delete(id);
      return typeof callback === 'function' ? callback.apply(this, args) : undefined;
    }, ms);
    liveTimers.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    liveTimers.delete(id);
    return nativeClearTimeout(id);
  };
  // An interval stays alive until cleared.
  window.setInterval = function (...args) {
    timersCreated++;
    const id = nativeSetInterval(...args);
    liveTimers.add(id);
    return id;
  };
  window.clearInterval = function (id) {
    liveTimers.delete(id);
    return nativeClearInterval(id);
  };

  // Listeners are keyed by target, type, function and capture flag, as the DOM does.
  const registry = new WeakMap();
  let liveListeners = 0;
  const byType = new Map();
  const key = (type, listener, options) => {
    const capture = typeof options === 'boolean' ? options : Boolean(options && options.capture);
    return { type: String(type), listener, capture };
  };
  const nativeAdd = EventTarget.prototype.addEventListener;
  const nativeRemove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (listener) {
      const k = key(type, listener, options);
      let entries = registry.get(this);
      if (!entries) registry.set(this, (entries = []));
      if (!entries.some((e) => e.type === k.type && e.listener === k.listener && e.capture === k.capture)) {
        entries.push(k);
        liveListeners++;
        byType.set(k.type, (byType.get(k.type) || 0) + 1);
        // Listeners the browser removes by itself: `once` after the first event, `signal` on abort.
        const forget = () => {
          const index = entries.indexOf(k);
          if (index !== -1) {
            entries.splice(index, 1);
            liveListeners--;
            byType.set(k.type, byType.get(k.type) - 1);
          }
        };
        if (options && typeof options === 'object') {
          if (options.once) nativeAdd.call(this, type, forget, { once: true, capture: k.capture });
          if (options.signal) nativeAdd.call(options.signal, 'abort', forget, { once: true });
        }
      }
    }
    return nativeAdd.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    const entries = registry.get(this);
    if (entries && listener) {
      const k = key(type, listener, options);
      const index = entries.findIndex((e) => e.type === k.type && e.listener === k.listener && e.capture === k.capture);
      if (index !== -1) {
        entries.splice(index, 1);
        liveListeners--;
        byType.set(k.type, byType.get(k.type) - 1);
      }
    }
    return nativeRemove.call(this, type, listener, options);
  };

  window.__leaks = {
    snapshot: () => ({
      timers: liveTimers.size,
      timersCreated,
      listeners: liveListeners,
      listenersByType: Object.fromEntries([...byType].filter(([, n]) => n !== 0)),
    }),
  };
})();
