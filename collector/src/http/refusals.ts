import type { Logger } from '../log.js';
import { LogThrottle } from '../logThrottle.js';

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
  private readonly lines = new Map<string, LogThrottle>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  record(refusal: Omit<Refusal, 'at'>, kind = String(refusal.status)): void {
    const at = this.now();
    this.recentOnes.push({ at, ...refusal });
    if (this.recentOnes.length > KEPT) this.recentOnes.shift();
    let line = this.lines.get(kind);
    if (!line) this.lines.set(kind, (line = new LogThrottle()));
    const count = line.take(at);
    if (count !== undefined) this.log.info('ingest refused', { kind, count, status: refusal.status, example: refusal.reason.slice(0, 200) });
  }

  /** Newest first. */
  recent(limit = KEPT): Refusal[] {
    return this.recentOnes.slice(-limit).reverse();
  }
}
