// Waiting on conditions and events, never on fixed sleeps: a check runs on every turn of a short poll until it
// holds or the deadline passes, and the failure message says what was awaited.

export async function waitFor(check, { timeout = 10000, interval = 5, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Resolves with the first state the client enters that matches, including the current one. */
export function waitForState(client, predicate, { timeout = 10000 } = {}) {
  if (predicate(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeout} ms waiting for a state; last: ${JSON.stringify(client.state)}`));
    }, timeout);
    const off = client.on('state', (state) => {
      if (!predicate(state)) return;
      clearTimeout(timer);
      off();
      resolve(state);
    });
  });
}

export const isConnected = (state) => state.status === 'connected';

/**
 * Collects publications whose data carries a sequence number `seq`, and judges the copy by those numbers: lost
 * and duplicated are counted against the expected range, not inferred from a count.
 */
export class SequenceCollector {
  constructor() {
    this.seen = [];
    this.resets = [];
  }
  onPublication = (publication) => {
    this.seen.push(publication.data.seq);
  };
  onReset = (reset) => {
    this.resets.push(reset);
  };
  has(count) {
    return new Set(this.seen).size >= count;
  }
  verdict(expected) {
    const counts = new Map();
    for (const seq of this.seen) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    let lost = 0;
    for (let seq = 1; seq <= expected; seq++) if (!counts.has(seq)) lost++;
    let duplicated = 0;
    for (const count of counts.values()) if (count > 1) duplicated += count - 1;
    let outOfOrder = 0;
    for (let i = 1; i < this.seen.length; i++) if (this.seen[i] < this.seen[i - 1]) outOfOrder++;
    return { lost, duplicated, outOfOrder, received: this.seen.length };
  }
}
