/**
 * One kind of log line, written at most once per `intervalMs` (a minute): an outage or a flood fails
 * many times a second, and the line carries how many times it happened since the one before.
 */
export class LogThrottle {
  private count = 0;
  private loggedAt = 0;

  constructor(private readonly intervalMs = 60_000) {}

  /** Counts one more; when a line is due at `now`, how many there were since the last one, else undefined. */
  take(now = Date.now()): number | undefined {
    this.count++;
    if (now - this.loggedAt < this.intervalMs) return undefined;
    const count = this.count;
    this.count = 0;
    this.loggedAt = now;
    return count;
  }
}
