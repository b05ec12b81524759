// Exponential backoff with "full jitter" (AWS architecture blog, "Exponential Backoff And Jitter"): the delay is
// uniform in [0, min(cap, base * factor^attempt)]. Full jitter spreads a crowd of clients that lost the same server
// across the whole window, which is what keeps a restarted server from being hit by all of them at once.

export interface BackoffOptions {
  /** Upper bound of the first window, in ms. */
  initialMs?: number;
  /** No window grows past this, in ms. */
  maxMs?: number;
  factor?: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 20000;
    this.factor = options.factor ?? 2;
  }

  /** The window for the given attempt (1-based): the largest delay that attempt may get. */
  windowMs(attempt: number): number {
    const exponent = Math.max(0, attempt - 1);
    return Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, exponent));
  }

  delayMs(attempt: number): number {
    return Math.floor(this.random() * this.windowMs(attempt));
  }
}
