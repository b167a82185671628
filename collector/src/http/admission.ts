import { statfs } from 'node:fs/promises';
import { StoreReadOnly } from '../store/types.js';
import { withinTime } from '../withinTime.js';

/** Free and total bytes of the filesystem holding `dir`. */
export type FreeSpaceReader = (dir: string) => Promise<{ free: number; total: number }>;

export const readFreeSpace: FreeSpaceReader = async (dir) => {
  const s = await statfs(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
};

export interface AdmissionSettings {
  /** The store's directory (an embedded store), whose filesystem must keep `minFreeBytes` free. */
  storeDir?: string;
  /** Below this many free bytes, new events are refused; undefined: the larger of 1 GB and 5 % of the filesystem. */
  minFreeBytes?: number;
  /** Above this many deliveries waiting, new events are refused. */
  maxQueueDepth: number;
  /** How often the disk and the queue are looked at, ms. */
  intervalMs?: number;
}

/** Why events are refused while the store gives no answer: a short wait, unlike a full disk's. */
export const STORE_SILENT = 'the store does not answer';
/** Why, while it answers but takes no writes (a standby after a failover, until the URL reaches the new primary). */
export const STORE_READ_ONLY = 'the store takes no writes';
/** How long a client is asked to wait then, s: a database restart takes a few. */
export const STORE_RETRY_AFTER_S = 5;

/** The public reason for a failed store check: never the database's address (that goes to the log). */
export function storeOutage(e: unknown): string {
  return e instanceof StoreReadOnly ? STORE_READ_ONLY : STORE_SILENT;
}

/** How long a client refused for `refusal` is asked to wait, s: a store outage takes seconds, a full disk longer. */
export function retryAfterS(refusal: string): number {
  return refusal === STORE_SILENT || refusal === STORE_READ_ONLY ? STORE_RETRY_AFTER_S : 30;
}

const GB = 1024 ** 3;
const CHECK_TIMEOUT_MS = 3000;

/**
 * Whether the collector takes new events: not when the store's disk is nearly full or the queue is
 * deeper than the cap. /collect then answers 503 with Retry-After and /readyz reports not ready, until
 * the disk has room again or the queue drained: nothing already stored is touched. Looked at every
 * second, not per request.
 */
export class Admission {
  /** Why new events are refused, or undefined when they are taken. */
  refusal?: string;
  private readonly timer: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly queueDepth: () => Promise<number>,
    private readonly freeSpace: FreeSpaceReader = readFreeSpace,
    private readonly onChange: (refusal: string | undefined, cause?: string) => void = () => {},
  ) {
    this.timer = setInterval(() => void this.check(), settings.intervalMs ?? 1000);
    this.timer.unref();
  }

  /**
   * Looks at the disk and the queue now. A store that gives no answer within `CHECK_TIMEOUT_MS` (a
   * database cut off by the network) counts as not answering; the next look waits for this one.
   */
  async check(): Promise<void> {
    if (this.checking) return this.checking;
    this.checking = this.look().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async look(): Promise<void> {
    let refusal: string | undefined;
    let cause: string | undefined;
    try {
      if (this.settings.storeDir) {
        const { free, total } = await this.freeSpace(this.settings.storeDir);
        const floor = this.settings.minFreeBytes ?? Math.max(GB, total * 0.05);
        if (free < floor) refusal = `the store's disk has ${mb(free)} free, below the floor of ${mb(floor)}`;
      }
      const depth = await withinTime(this.queueDepth(), CHECK_TIMEOUT_MS);
      if (!refusal && depth > this.settings.maxQueueDepth) {
        refusal = `${depth} deliveries are waiting, above limits.maxQueueDepth (${this.settings.maxQueueDepth})`;
      }
    } catch (e) {
      // The cause (a database's address, say) goes to the log, not to whoever posts events.
      refusal = storeOutage(e);
      cause = (e as Error).message;
    }
    if (refusal !== this.refusal) {
      this.refusal = refusal;
      this.onChange(refusal, cause);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;
