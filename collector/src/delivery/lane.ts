import type { Destination, HttpRequest } from '../destinations/types.js';
import { conversionKey } from '../event.js';
import type { Logger } from '../log.js';
import { LogThrottle } from '../logThrottle.js';
import { recordingMask, requestLine, requestText } from './record.js';
import type { ClaimedDelivery, DeliveryState, DeliveryUpdate, LaneRecord, SharedLane, Store } from '../store/types.js';
import { backoffMs, MAX_VENDOR_WAIT_MS } from './backoff.js';
import {
  BadCredentialsError,
  InvalidEventError,
  isDeliveryError,
  RetryableError,
  type DeliveryError,
} from '../destinations/errors.js';
import type { Sender } from './send.js';

/** A request's answer must come this long before its lease ends, for its result to be recorded under it. */
const LEASE_MARGIN_MS = 1000;
/** Less of the lease left than this for a request (its steps before it were slow): not sent now. */
const MIN_SEND_MS = 1000;

export interface LaneOptions {
  concurrency: number;
  pollMs: number;
  maxAgeMs: number;
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** The longest wait between probes of a failing vendor (unless it asks for longer with Retry-After). */
  maxProbeIntervalMs: number;
  /** The collector's defaultCountry, to find phone numbers in recorded requests. */
  defaultCountry?: string;
  /** How long a claimed delivery stays leased to this process (and the probe of a failing destination, in a fleet). */
  leaseMs: number;
}

export type LaneState = 'active' | 'backing-off' | 'paused';

export interface LaneStatus {
  destination: string;
  state: LaneState;
  inFlight: number;
  consecutiveFailures: number;
  blockedUntil?: number;
  reason?: string;
}

export interface LaneEvents {
  /** Deliveries that reached an end: delivered, skipped, rejected or dead. */
  outcome(destination: string, state: DeliveryState, n: number): void;
  failed(destination: string, kind: string, n: number): void;
  /** One vendor request and how long it took; `statusClass` is `2xx`…`5xx` or `network`. */
  request(destination: string, statusClass: string, seconds: number): void;
}

/**
 * Delivery to one destination. Each destination has its own lane, so one vendor's outage or
 * slowness never delays another. A lane keeps up to `concurrency` requests in flight; after a
 * retryable failure it backs off and then sends one probe at a time until the vendor answers again;
 * after 401/403 it pauses and probes rarely, its events waiting for a fixed key.
 *
 * An outage counts once, not once per request it caught: only the answer to a request sent after the
 * lane last changed its mind (an "epoch") moves the lane. When a vendor starts failing with a full
 * window in flight, the first failure counts and the others in flight are the same news. When a probe
 * succeeds, the deliveries that failed only because of the outage are due again at once, and the
 * window grows by one request per success (slow start) until the backlog is gone.
 *
 * In a fleet (a store with `fleet`: PostgreSQL) the lane's state is the destination's, shared by every
 * collector: a counted failure or recovery is written with compare-and-set on the epoch (the second
 * collector to see the same outage finds it counted and takes the stored state instead), each lane
 * reads the shared state before claiming (at most every `pollMs`), and a failing destination is
 * probed by the one collector that holds its probe in the store. On SQLite none of this runs.
 */
export class Lane {
  private inFlight = 0;
  /** Requests allowed in flight: one after a failure, growing by one per success up to `concurrency`. */
  private window: number;
  private failures = 0;
  private blockedUntil = 0;
  private state: LaneState = 'active';
  private reason?: string;
  private running = false;
  private wake?: () => void;
  /**
   * Set while the lane waits because its last claim found nothing: only then can stored events give it work. In
   * any other wait (every slot taken, backing off, another collector probing) they cannot, and under load a lane
   * with a backlog waits for a slot nearly all the time: waking it for every group commit's events (hundreds a
   * second) only made it sleep again, a promise and a timer each, 3–7 % of the collector's CPU a request in a
   * probe (BENCHMARKS.md, twenty-eighth stop).
   */
  private waitingForWork = false;
  private loop?: Promise<void>;
  /** Bumped whenever an answer changes the lane's state; answers to requests sent before then are old news. */
  private epoch = 0;
  /** Deliveries that failed during the current outage, and those whose failure started it. */
  private outage = { failed: new Set<number>(), starters: new Set<number>() };
  /** Past the stop deadline: the requests still in flight are aborted. */
  private stopping = false;
  /** The destination's state shared by a fleet (undefined: this process alone). */
  private readonly shared?: SharedLane;
  private readonly fleetId?: string;
  private sharedReadAt = 0;
  /** Failed turns of the loop, logged at most once a minute. */
  private readonly loopFailures = new LogThrottle();
  private readonly unsentForLease = new LogThrottle();
  /** Writes of the shared state, one after the other. */
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly destination: Destination,
    private readonly store: Store,
    private readonly sender: Sender,
    private readonly opts: LaneOptions,
    private readonly log: Logger,
    private readonly redact: (text: string) => string,
    private readonly events?: LaneEvents,
  ) {
    this.window = opts.concurrency;
    this.shared = store.fleet?.lane(destination.name);
    this.fleetId = store.fleet?.id;
  }

  get name(): string {
    return this.destination.name;
  }

  status(): LaneStatus {
    return {
      destination: this.name,
      state: this.state,
      inFlight: this.inFlight,
      consecutiveFailures: this.failures,
      blockedUntil: this.blockedUntil > Date.now() ? this.blockedUntil : undefined,
      reason: this.reason,
    };
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** New events are stored: a lane waiting for work looks for it now; one waiting for anything else goes on waiting. */
  notify(): void {
    if (this.waitingForWork) this.wakeUp();
  }

  /** Stops any wait: a slot was freed, the lane's state changed, or it is stopping. */
  private wakeUp(): void {
    this.wake?.();
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for the requests in flight; then aborts the rest,
   * whose deliveries stay pending (due at once, no attempt counted). Resolves once every result is recorded.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.running = false;
    this.wakeUp();
    const deadline = Date.now() + deadlineMs;
    while (this.inFlight > 0 && Date.now() < deadline) await this.sleep(20);
    this.stopping = true;
    this.sender.abortAll(new Error('collector stopping'));
    while (this.inFlight > 0) await this.sleep(10);
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        let now = Date.now();
        if (this.shared && now - this.sharedReadAt >= this.opts.pollMs) {
          this.sharedReadAt = now;
          this.adopt(await this.shared.read());
          now = Date.now();
        }
        if (now < this.blockedUntil) {
          await this.sleep(Math.min(this.blockedUntil - now, this.shared ? this.opts.pollMs : 1000));
          continue;
        }
        // A failing vendor is probed with one request at a time, not hammered; a recovered one drains
        // its backlog with a window that grows by one request per success (slow start).
        const failing = this.failures > 0 || this.state === 'paused';
        const capacity = failing ? 1 : this.window;
        const free = capacity - this.inFlight;
        // Claim in chunks (an eighth of the window at least, or the store's share) rather than one slot at a time.
        if (free <= 0 || (this.inFlight > 0 && free < Math.ceil(capacity * (this.store.claimShare ?? 1 / 8)))) {
          await this.sleep(this.opts.pollMs);
          continue;
        }
        // In a fleet, one collector probes a failing destination: the one that takes this epoch's probe.
        const probe = failing && this.shared ? this.epoch : undefined;
        if (probe !== undefined && !(await this.shared!.takeProbe(probe, now, now + this.opts.leaseMs))) {
          await this.sleep(this.opts.pollMs);
          continue;
        }
        const claimed = await this.store.claim(this.name, free * this.destination.maxBatch, now, this.opts.leaseMs);
        if (claimed.length === 0) {
          if (probe !== undefined) await this.shared!.releaseProbe(probe);
          this.waitingForWork = true;
          await this.sleep(this.opts.pollMs);
          this.waitingForWork = false;
          continue;
        }
        await this.dispatch(claimed, now + this.opts.leaseMs);
      } catch (e) {
        // The store does not answer, say: logged at once, then at most once a minute with how many
        // turns failed since, so an outage of an hour is sixty lines per destination, not 3,600.
        const failures = this.loopFailures.take();
        if (failures !== undefined) this.log.error('delivery loop error', { destination: this.name, error: e, failures });
        await this.sleep(1000);
      }
    }
  }

  /** Maps the claimed deliveries and starts their requests; returns once they are in flight. */
  private async dispatch(claimed: ClaimedDelivery[], leaseEnds: number): Promise<void> {
    const updates: DeliveryUpdate[] = [];
    const ready: { delivery: ClaimedDelivery; payload: unknown }[] = [];
    for (const delivery of claimed) {
      try {
        const mapped = await this.destination.map(delivery.event);
        if ('skip' in mapped) {
          const skipped: DeliveryUpdate = { id: delivery.id, state: 'skipped', detail: mapped.skip };
          this.logOutcomes([delivery], [skipped]);
          updates.push(skipped);
        } else if ('wait' in mapped) {
          // Not yet: it waits without counting an attempt (a verifiedOnly event waits for its confirmation).
          updates.push({ id: delivery.id, state: 'pending', nextAt: mapped.wait, detail: mapped.reason });
        } else ready.push({ delivery, payload: mapped.payload });
      } catch (e) {
        const failed = this.failed([delivery], e);
        this.logOutcomes([delivery], failed);
        updates.push(...failed);
      }
    }
    // One conversion (a browser's and a server's event with one transaction id), one send per destination:
    // the delivery that claims it first sends it; the others are skipped.
    const conversions = ready.map((r) => conversionKey(r.delivery.event));
    const claims = ready
      .map((r, i) => ({ conversion: conversions[i]!, destination: this.name, deliveryId: r.delivery.id }))
      .filter((c) => c.conversion);
    if (claims.length) {
      const won = new Map((await this.store.claimConversions(claims)).map((ok, i) => [claims[i]!.deliveryId, ok]));
      for (let i = ready.length - 1; i >= 0; i--) {
        const { delivery } = ready[i]!;
        if (won.get(delivery.id) !== false) continue;
        const skipped: DeliveryUpdate = {
          id: delivery.id,
          state: 'skipped',
          detail: `sent once already: another event of this conversion (${conversions[i]}) goes to ${this.name}`,
        };
        this.logOutcomes([delivery], [skipped]);
        updates.push(skipped);
        ready.splice(i, 1);
      }
    }
    if (updates.length) await this.store.update(updates);
    for (let i = 0; i < ready.length; i += this.destination.maxBatch) {
      const chunk = ready.slice(i, i + this.destination.maxBatch);
      this.inFlight++;
      void this.deliver(
        chunk.map((c) => c.delivery),
        chunk.map((c) => c.payload),
        this.epoch,
        leaseEnds,
      ).finally(() => {
        this.inFlight--;
        this.wakeUp();
      });
    }
  }

  private async deliver(deliveries: ClaimedDelivery[], payloads: unknown[], epoch: number, leaseEnds: number): Promise<void> {
    let request: HttpRequest | undefined;
    let updates: DeliveryUpdate[];
    let aborted = false;
    try {
      request = this.destination.request(payloads);
      // The request's own timeout: its answer, or the timeout, comes a second before the lease ends, to be recorded.
      const budget = Math.min(this.sender.timeoutMs, leaseEnds - Date.now() - LEASE_MARGIN_MS);
      if (this.destination.dryRun) {
        const recorded = this.record(request, deliveries);
        updates = deliveries.map((d) => ({
          id: d.id,
          state: 'delivered',
          attempted: true,
          detail: 'dry run: not sent',
          request: recorded,
        }));
      } else if (budget < MIN_SEND_MS) {
        // The steps before the request (mapping, a conversion claim, a store that answered slowly) used nearly
        // all of the lease: sent now, the request could still be out when the lease ends, and another claim
        // send it too. Not sent: it waits for its next claim, with a lease of its own, as if never tried.
        const unsent = this.unsentForLease.take();
        if (unsent !== undefined) {
          this.log.warn('deliveries not sent: the steps before their request left too little of their lease', {
            destination: this.name,
            times: unsent,
          });
        }
        updates = deliveries.map((d) => ({
          id: d.id,
          state: 'pending',
          nextAt: Date.now(),
          detail: 'not sent: the steps before the request left too little of its lease',
        }));
      } else {
        const sent = performance.now();
        const response = await this.sender.send(request, budget).catch((e: unknown) => {
          // Past the stop deadline, the sender aborts what is in flight.
          aborted = this.stopping;
          if (!aborted) this.events?.request(this.name, 'network', (performance.now() - sent) / 1000);
          throw e;
        });
        this.events?.request(this.name, `${String(response.status)[0]}xx`, (performance.now() - sent) / 1000);
        this.destination.check(response, request);
        if (epoch === this.epoch) this.succeeded();
        // A delivered request is recorded as its first line: its body is never needed again (the store
        // cuts it once the event is done), so it is neither masked nor written, most of recording's work.
        // Its URL is built from settings, never from an event: secrets are all it may hold.
        const recorded = `${this.redact(requestLine(request))} [body removed after delivery]`;
        updates = deliveries.map((d) => ({
          id: d.id,
          state: 'delivered',
          attempted: true,
          status: response.status,
          detail: response.body.slice(0, 500) || undefined,
          request: recorded,
        }));
      }
    } catch (e) {
      updates = aborted
        ? // Stopped before the vendor answered: the deliveries wait for the next start, as if never tried.
          deliveries.map((d) => ({ id: d.id, state: 'pending', nextAt: Date.now(), detail: 'collector stopped before the vendor answered' }))
        : this.failed(deliveries, e, request && this.recordFailed(request, deliveries), epoch);
    }
    this.logOutcomes(deliveries, updates);
    await this.saveResults(updates, leaseEnds);
  }

  /**
   * Records results. A store that fails (a database restarting) is tried again while the deliveries'
   * lease holds, so a short outage repeats no request; the slots stay taken meanwhile, so the lane sends
   * nothing new. Past the lease, or once the lane is stopping, the results are left: the deliveries are
   * tried again when the lease runs out, a repeat, never a loss.
   */
  private async saveResults(updates: DeliveryUpdate[], leaseEnds: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.update(updates);
        if (attempt > 0) this.log.info('recorded delivery results once the store answered again', { destination: this.name, tries: attempt + 1 });
        return;
      } catch (e) {
        const wait = Math.min(250 * 2 ** attempt, 2000);
        const giveUp = this.stopping || Date.now() + wait >= leaseEnds;
        if (attempt === 0 || giveUp) {
          this.log.error(giveUp ? 'could not record delivery results: their lease runs out and they are sent again' : 'could not record delivery results: trying again while their lease holds', {
            destination: this.name,
            deliveries: updates.length,
            error: e,
          });
        }
        if (giveUp) return;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** At info: every refusal and dead letter, with the vendor's status and message; at debug: every attempt. */
  private logOutcomes(deliveries: ClaimedDelivery[], updates: DeliveryUpdate[]): void {
    updates.forEach((u, i) => {
      if (u.state !== 'pending') this.events?.outcome(this.name, u.state, 1);
      const fields = { destination: this.name, event: deliveries[i]?.event.id, status: u.status };
      if (u.state === 'rejected') this.log.info('delivery rejected', { ...fields, message: u.detail });
      else if (u.state === 'dead') this.log.info('dead letter', { ...fields, message: u.detail });
      else this.log.debug('delivery attempt', { ...fields, state: u.state, detail: u.detail?.slice(0, 200) });
    });
  }

  private succeeded(): void {
    if (this.failures > 0 || this.state !== 'active') {
      this.log.info(this.state === 'paused' ? 'destination resumed' : 'destination recovered', { destination: this.name, after: this.failures });
      const from = this.epoch++;
      this.retryOutage(this.failures);
      this.failures = 0;
      this.state = 'active';
      this.reason = undefined;
      this.blockedUntil = 0;
      this.publish(from);
    }
    this.window = Math.min(this.opts.concurrency, this.window + 1);
  }

  /**
   * What failed only because of the outage goes again now. After a single failure, the delivery that
   * failed may be the problem (a vendor that fails on one event only): it keeps its own backoff.
   */
  private retryOutage(failures: number): void {
    const { failed, starters } = this.outage;
    const due = [...failed].filter((id) => failures > 1 || !starters.has(id));
    this.outage = { failed: new Set(), starters: new Set() };
    if (due.length) {
      this.store.retryNow(due, Date.now()).then(
        () => this.notify(),
        (e: unknown) => this.log.error('could not make deliveries due after an outage', { destination: this.name, error: e }),
      );
    }
  }

  /** Writes the lane's new state (moved from epoch `from`) to the fleet; losing to another collector's news, takes that. */
  private publish(from: number): void {
    const shared = this.shared;
    if (!shared) return;
    const next: LaneRecord = {
      epoch: this.epoch,
      state: this.state,
      failures: this.failures,
      blockedUntil: this.blockedUntil,
      reason: this.reason,
    };
    this.publishing = this.publishing.then(async () => {
      try {
        const stored = await shared.move(from, next);
        if (stored.epoch !== next.epoch || stored.updatedBy !== this.fleetId) this.adopt(stored, true);
      } catch (e) {
        this.log.error('could not share the destination state', { destination: this.name, error: e });
      }
    });
  }

  /**
   * Takes the fleet's state of the destination when it is newer than this lane's (or, `sameEpoch`,
   * when another collector won the change to this epoch). Requests sent before are old news from now on.
   */
  private adopt(r: LaneRecord, sameEpoch = false): void {
    if (r.epoch < this.epoch || (r.epoch === this.epoch && !sameEpoch)) return;
    const failuresBefore = this.failures;
    const wasFailing = failuresBefore > 0 || this.state !== 'active';
    const failing = r.failures > 0 || r.state !== 'active';
    if (failing && !wasFailing) this.log.info('destination failing, as another collector found', { destination: this.name, reason: r.reason, by: r.updatedBy });
    if (!failing && wasFailing) {
      this.log.info('destination recovered, as another collector found', { destination: this.name, by: r.updatedBy });
      this.retryOutage(Math.max(failuresBefore, 2));
      this.wakeUp();
    }
    this.epoch = r.epoch;
    this.state = r.state;
    this.failures = r.failures;
    this.blockedUntil = r.blockedUntil;
    this.reason = r.reason;
    if (failing) this.window = 1;
  }

  /** A request that failed, recorded whole for /debug; if masking it fails, its first line. */
  private recordFailed(request: HttpRequest, deliveries: ClaimedDelivery[]): string {
    try {
      return this.record(request, deliveries);
    } catch {
      // Not its message either: it may quote the value it choked on.
      return `${this.redact(requestLine(request))} [body not recorded]`;
    }
  }

  /** The request as recorded for /debug: no secret, and none of the events' personal data, in any form. */
  private record(request: HttpRequest, deliveries: ClaimedDelivery[]): string {
    const mask = recordingMask(
      deliveries.map((d) => d.event),
      this.redact,
      this.opts.defaultCountry,
    );
    return mask(requestText(request)).slice(0, 8000);
  }

  /**
   * What becomes of deliveries whose mapping or request failed, decided from the error's class alone.
   * `recorded`: the request as recorded, when one was built; `epoch`: the lane's epoch when it was sent
   * (undefined: no request, the mapping failed).
   */
  private failed(deliveries: ClaimedDelivery[], e: unknown, recorded?: string, epoch?: number): DeliveryUpdate[] {
    const error: DeliveryError = isDeliveryError(e)
      ? e
      : new InvalidEventError(`cannot map event: ${(e as Error)?.message ?? String(e)}`, {
          destination: this.name,
          cause: e,
        });
    const now = Date.now();
    const base = { status: error.status, request: recorded, attempted: recorded !== undefined };
    const detail = this.redact(error.body ? `${error.message}: ${error.body}` : error.message).slice(0, 4000);
    this.events?.failed(this.name, error.name, deliveries.length);

    if (error instanceof InvalidEventError) {
      return deliveries.map((d) => ({ ...base, id: d.id, state: 'rejected', detail }));
    }
    if (error instanceof BadCredentialsError) {
      if (this.state !== 'paused')
        this.log.error('destination paused: credentials refused', { destination: this.name, status: error.status });
      const from = this.epoch;
      if (this.state !== 'paused') this.epoch++;
      this.state = 'paused';
      this.window = 1;
      this.reason = detail;
      this.blockedUntil = now + this.opts.maxBackoffMs;
      if (this.epoch !== from) this.publish(from);
      // Not the event's fault: it waits, without counting toward giving up, and goes first when the key works.
      return deliveries.map((d) => ({ ...base, id: d.id, state: 'pending', nextAt: now, detail, attempted: false }));
    }
    const retry = error as RetryableError;
    // Only news moves the lane: the first failure of an outage, or a failed probe. Requests that were in
    // flight when the outage began fail with it and tell nothing new (epoch is older).
    if (epoch === undefined || epoch === this.epoch) {
      const from = this.epoch++;
      this.failures++;
      if (this.failures === 1) for (const d of deliveries) this.outage.starters.add(d.id);
      this.window = 1;
      if (this.state !== 'backing-off') this.log.info('destination backing off', { destination: this.name, reason: detail.slice(0, 500) });
      this.state = 'backing-off';
      this.reason = detail;
      this.blockedUntil =
        now +
        backoffMs(this.failures - 1, {
          baseMs: this.opts.baseBackoffMs,
          maxMs: Math.min(this.opts.maxBackoffMs, this.opts.maxProbeIntervalMs),
          retryAfterMs: retry.retryAfterMs,
        });
      this.publish(from);
    } else if (retry.retryAfterMs !== undefined) {
      // Still, a vendor that says how long to wait is heard.
      this.blockedUntil = Math.max(this.blockedUntil, now + Math.min(retry.retryAfterMs, MAX_VENDOR_WAIT_MS));
    }
    for (const d of deliveries) this.outage.failed.add(d.id);
    return deliveries.map((d) => {
      const attempts = d.attempts + (base.attempted ? 1 : 0);
      if (now - d.createdAt >= this.opts.maxAgeMs || attempts >= this.opts.maxAttempts) {
        return { ...base, id: d.id, state: 'dead', detail: `gave up after ${attempts} attempts: ${detail}` };
      }
      const delay = backoffMs(attempts, {
        baseMs: this.opts.baseBackoffMs,
        maxMs: this.opts.maxBackoffMs,
        retryAfterMs: retry.retryAfterMs,
      });
      return { ...base, id: d.id, state: 'pending', nextAt: now + delay, detail };
    });
  }
}
