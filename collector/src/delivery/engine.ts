import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { Destination } from '../destinations/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import { Lane, type LaneStatus } from './lane.js';
import { Sender } from './send.js';

/** tagrelay's version, from its package.json. */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** All delivery lanes of this process, one per enabled destination. */
export class DeliveryEngine {
  private readonly lanes: Lane[];
  private readonly senders: Sender[] = [];
  private maintenance?: NodeJS.Timeout;
  private stopped?: Promise<void>;

  constructor(
    private readonly config: Config,
    destinations: readonly Destination[],
    private readonly store: Store,
    private readonly log: Logger,
    redact: (text: string) => string,
    metrics: Metrics,
  ) {
    const d = config.delivery;
    const delivered = metrics.counter('tagrelay_deliveries_total', 'Deliveries accepted by the vendor (or recorded in dry run)');
    const failed = metrics.counter('tagrelay_delivery_failures_total', 'Failed delivery attempts by kind of error');
    this.lanes = destinations.map((dest) => {
      const sender = new Sender(dest.name, { connections: d.concurrency, timeoutMs: d.timeoutMs });
      this.senders.push(sender);
      return new Lane(
        dest,
        store,
        sender,
        {
          concurrency: d.concurrency,
          pollMs: d.pollMs,
          maxAgeMs: d.maxAgeHours * 3_600_000,
          maxAttempts: d.maxAttempts,
          baseBackoffMs: d.baseBackoffMs,
          maxBackoffMs: d.maxBackoffMs,
          maxProbeIntervalMs: d.maxProbeIntervalMs,
          defaultCountry: config.defaultCountry,
          leaseMs: d.leaseMs,
        },
        log,
        redact,
        {
          delivered: (destination, n) => delivered({ destination }, n),
          failed: (destination, kind, n) => failed({ destination, kind }, n),
        },
      );
    });
  }

  start(): void {
    // In a fleet, this collector reports itself alive (tagrelay status lists the fleet).
    this.store.fleet?.join(version()).catch((e: unknown) => this.log.error('could not join the fleet', { error: e }));
    for (const lane of this.lanes) lane.start();
    const purge = async () => {
      const day = 86_400_000;
      const now = Date.now();
      const { deliveredDays, deadLetterDays, unroutedHours } = this.config.retention;
      try {
        const n = await this.store.purge({
          deliveredBefore: now - deliveredDays * day,
          deadBefore: now - deadLetterDays * day,
          unroutedBefore: now - unroutedHours * 3_600_000,
        });
        if (n) this.log.info('purged old events', { events: n });
      } catch (e) {
        this.log.error('purge failed', { error: e });
      }
    };
    void purge();
    this.maintenance = setInterval(purge, 10 * 60_000);
    this.maintenance.unref();
  }

  notify(): void {
    for (const lane of this.lanes) lane.notify();
  }

  status(): LaneStatus[] {
    return this.lanes.map((l) => l.status());
  }

  /** Stops every lane (requests in flight get `deadlineMs`, then are left queued); once, however often called. */
  stop(deadlineMs: number): Promise<void> {
    this.stopped ??= (async () => {
      clearInterval(this.maintenance);
      await Promise.all(this.lanes.map((l) => l.stop(deadlineMs)));
      await Promise.all(this.senders.map((s) => s.close()));
    })();
    return this.stopped;
  }
}
