// Animation frames under the test's control: nothing renders until the test runs a frame, so a test can count
// renders per frame exactly.

import type { FrameScheduler } from '../frames.js';

export class FakeAnimationFrames implements FrameScheduler {
  private callbacks = new Map<number, () => void>();
  private nextHandle = 1;
  /** Frames run so far. */
  frames = 0;

  requestFrame(callback: () => void): number {
    const handle = this.nextHandle++;
    this.callbacks.set(handle, callback);
    return handle;
  }

  cancelFrame(handle: unknown): void {
    this.callbacks.delete(handle as number);
  }

  /** Frame callbacks waiting for the next frame. */
  get pending(): number {
    return this.callbacks.size;
  }

  /** Runs one frame: every callback requested before it (ones requested during it wait for the next). */
  runFrame(): void {
    const due = [...this.callbacks.values()];
    this.callbacks.clear();
    this.frames++;
    for (const callback of due) callback();
  }
}
