import type { Config } from '../config.js';
import type { Destination } from '../destinations/types.js';
import type { Logger } from '../log.js';
import { combinations, type Metrics } from '../metrics.js';
import { version } from '../packageInfo.js';
import type { Store } from '../store/types.js';
import { Lane, type LaneStatus } from './lane.js';
import { Sender } from './send.js';

/** All delivery lanes of this process, one per enabled destination. */
export class DeliveryEngine {
  private readonly lanes: Lane[];
  private readonly senders: Sender[] = [];
  private maintenance?: NodeJS.Timeout;
  private stopped?: Promise<void>;
  private waking = false;

  constructor(
    private readonly config: Config,
    destinations: readonly Destination[],
    private readonly store: Store,
    private readonly log: Logger,
    redact: (text: string) => string,
    metrics: Metrics,
  ) {
    const d = config.delivery;
    const names = destinations.map((dest) => dest.name);
    const dryRun = (name: string) => String(destinations.find((dest) => dest.name === name)?.dryRun ?? false);
    const outcomes = metrics.counter(
      'tagrelay_deliveries_total',
      'Deliveries that reached an end, by destination and outcome (delivered, skipped, rejected, dead); dry_run="true" for recorded, not sent',
      ['destination', 'outcome', 'dry_run'],
      combinations({ destination: names, outcome: ['delivered', 'skipped', 'rejected', 'dead'] }).map((l) => ({ ...l, dry_run: dryRun(l.destination!) })),
    );
    const failed = metrics.counter(
      'tagrelay_delivery_failures_total',
      'Failed delivery attempts by destination and kind of error',
      ['destination', 'kind'],
      combinations({ destination: names, kind: ['InvalidEventError', 'BadCredentialsError', 'RetryableError'] }),
    );
    const requests = metrics.histogram(
      'tagrelay_vendor_request_duration_seconds',
      'Vendor requests and how long their answers took, by destination and status class (network: no answer)',
      [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      ['destination', 'status_class'],
      combinations({ destination: names, status_class: ['2xx', '4xx', '5xx', 'network'] }),
    );
    // With --workers, 1 for each state any of the processes is in.
    metrics.gauge('tagrelay_lane_state', 'Each destination\'s delivery state: 1 for the state it is in', ['destination', 'state'], 'max', () =>
      this.status().flatMap((l) =>
        (['active', 'backing-off', 'paused'] as const).map((state): [Record<string, string>, number] => [
          { destination: l.destination, state },
          l.state === state ? 1 : 0,
        ]),
      ),
    );
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
          outcome: (destination, outcome, n) => outcomes({ destination, outcome, dry_run: dryRun(destination) }, n),
          failed: (destination, kind, n) => failed({ destination, kind }, n),
          request: (destination, statusClass, seconds) => requests(seconds, { destination, status_class: statusClass }),
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
          visitorsBefore: now - this.config.attributionDays * day,
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

  /**
   * New events are stored: each lane waiting for work looks for it, once a turn of the event loop (a lane waiting for
   * a free slot or backing off goes on waiting). The requests of one group commit all hear of it in the same turn,
   * and each woke every lane before (a timer and a promise each).
   */
  notify(): void {
    if (this.waking) return;
    this.waking = true;
    setImmediate(() => {
      this.waking = false;
      for (const lane of this.lanes) lane.notify();
    });
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
