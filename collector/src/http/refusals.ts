import type { Logger } from '../log.js';

/** One request or event /collect refused, as /debug shows it. */
export interface Refusal {
  at: number;
  status: number;
  /** What was wrong, as the answer said it. */
  reason: string;
  /** The event's id and name, when the body held one that could be read. */
  eventId?: string;
  eventName?: string;
}

const KEPT = 200;

/**
 * What /collect refused lately: the last 200 for /debug (a beacon cannot tell the browser), and a log
 * line per kind of refusal at most once a minute, with how many there were since the last line.
 */
export class Refusals {
  private readonly recentOnes: Refusal[] = [];
  private readonly lines = new Map<string, { count: number; lastLine: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  record(refusal: Omit<Refusal, 'at'>, kind = String(refusal.status)): void {
    const at = this.now();
    this.recentOnes.push({ at, ...refusal });
    if (this.recentOnes.length > KEPT) this.recentOnes.shift();
    const line = this.lines.get(kind) ?? { count: 0, lastLine: 0 };
    line.count++;
    if (at - line.lastLine >= 60_000) {
      this.log.info('ingest refused', { kind, count: line.count, status: refusal.status, example: refusal.reason.slice(0, 200) });
      line.count = 0;
      line.lastLine = at;
    }
    this.lines.set(kind, line);
  }

  /** Newest first. */
  recent(limit = KEPT): Refusal[] {
    return this.recentOnes.slice(-limit).reverse();
  }
}
