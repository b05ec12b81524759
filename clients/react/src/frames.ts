// Rendering is paced by animation frames: a hook's store takes in events as they arrive, and React hears about them
// at most once per frame. One FrameBatcher per provider collects every store that changed during a frame, so all of
// them notify React inside one callback and React 18 renders them as one batch.

/** Where frames come from: `requestAnimationFrame` in a browser, a fake in tests, a timer where neither exists. */
export interface FrameScheduler {
  requestFrame(callback: () => void): unknown;
  cancelFrame(handle: unknown): void;
}

/** ~60 Hz without a display (Node, server rendering); browsers pause rAF in hidden tabs, which is what we want there. */
const FALLBACK_FRAME_MS = 16;

export function defaultFrameScheduler(): FrameScheduler {
  const scope = globalThis as {
    requestAnimationFrame?: (callback: () => void) => number;
    cancelAnimationFrame?: (handle: number) => void;
  };
  if (typeof scope.requestAnimationFrame === 'function' && typeof scope.cancelAnimationFrame === 'function') {
    const request = scope.requestAnimationFrame.bind(globalThis);
    const cancel = scope.cancelAnimationFrame.bind(globalThis);
    return { requestFrame: (callback) => request(callback), cancelFrame: (handle) => cancel(handle as number) };
  }
  return {
    requestFrame: (callback) => setTimeout(callback, FALLBACK_FRAME_MS),
    cancelFrame: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

export interface Flushable {
  flush(): void;
}

export class FrameBatcher {
  private readonly dirty = new Set<Flushable>();
  private frame: unknown = null;

  constructor(readonly scheduler: FrameScheduler = defaultFrameScheduler()) {}

  /** Flushes `store` on the next frame (once, however often it is scheduled before then). */
  schedule(store: Flushable): void {
    this.dirty.add(store);
    if (this.frame === null) this.frame = this.scheduler.requestFrame(this.runFrame);
  }

  private runFrame = (): void => {
    this.frame = null;
    const stores = [...this.dirty];
    this.dirty.clear();
    for (const store of stores) store.flush();
  };
}
