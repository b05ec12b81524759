// A `navigator.locks` stand-in for environments without Web Locks (Node): exclusive locks granted in request
// order, released when the holder's callback settles — which is how tab leadership is handed over.

import type { TabLocks } from '../crossTab.js';

interface Waiter {
  callback: () => Promise<void>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class FakeLocks implements TabLocks {
  private readonly queues = new Map<string, Waiter[]>();

  request(name: string, callback: () => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(name);
      if (!queue) this.queues.set(name, (queue = []));
      queue.push({ callback, resolve, reject });
      if (queue.length === 1) this.grant(name);
    });
  }

  private grant(name: string): void {
    const queue = this.queues.get(name);
    const holder = queue?.[0];
    if (!queue || !holder) return;
    Promise.resolve()
      .then(() => holder.callback())
      .then(holder.resolve, holder.reject)
      .finally(() => {
        queue.shift();
        this.grant(name);
      });
  }
}
