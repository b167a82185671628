/** A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. */
export interface BucketSettings {
  ratePerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** How many client addresses are tracked at most; past that the longest-idle ones are forgotten (they start full again). */
const MAX_TRACKED = 100_000;

/**
 * Token buckets per key (the client's address), one request a token. `take` is O(1) and allocates only
 * for a new key, so an abusive client costs others nothing; a key that refilled completely is forgotten.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly settings: BucketSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  /** Takes a token for `key`: 0 when allowed, else the seconds until one is due (for Retry-After). */
  take(key: string): number {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.settings.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.settings.burst, b.tokens + ((now - b.at) / 1000) * this.settings.ratePerSecond);
      b.at = now;
      // Most recently used last, so the first keys are the longest idle.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.settings.ratePerSecond));
  }

  /** The seconds until `key` has a token, without taking one (0: it has one now). */
  peek(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.settings.burst, b.tokens + ((this.now() - b.at) / 1000) * this.settings.ratePerSecond);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.settings.ratePerSecond));
  }

  /** Forgets the buckets that are full again. */
  private sweep(): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.settings.ratePerSecond >= this.settings.burst) this.buckets.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
