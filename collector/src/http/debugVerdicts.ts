import type { StoredEvent } from '../event.js';
import type { LaneStatus } from '../delivery/lane.js';
import type { Destination } from '../destinations/types.js';
import type { DeliveryRecord, DeliveryState } from '../store/types.js';

/** What became of an event at one destination, as /debug says it. */
export const VERDICTS = ['delivered', 'pending', 'skipped', 'rejected', 'dead', 'dry-run', 'not-routed'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** One destination's verdict on one event, with the reason and what the operator needs to act on it. */
export interface DestinationVerdict {
  destination: string;
  verdict: Verdict;
  /** Why, in a sentence: the vendor's answer, the next attempt, the consent key, the setting that would route it. */
  reason: string;
  /** False for a delivery to a destination no longer in the config (or disabled). */
  configured: boolean;
  /** What the vendor calls this event (its event name, event type or goal), when the destination takes it. */
  vendorEvent?: string;
  /** not-routed: the setting that would route the event (`destinations.chase.events`). */
  setting?: string;
  /** skipped for consent: the Consent Mode key the event denies. */
  consentKey?: string;
  state?: DeliveryState;
  attempts?: number;
  /** The vendor's HTTP status of the last attempt. */
  status?: number;
  /** pending: the next attempt, ms since 1970. */
  nextAt?: number;
  /** pending: a request is in flight now. */
  inFlight?: boolean;
  /** pending: the last error. */
  lastError?: string;
  updatedAt?: number;
  /** The request as recorded (secrets and personal data redacted; its body is removed once the event is done, except dry runs). */
  request?: string;
  /** The vendor's answer: its status and body (or message). */
  response?: { status?: number; body?: string };
  /** pending at a destination that is not active: its lane state and why. */
  lane?: { state: LaneStatus['state']; reason?: string; blockedUntil?: number };
}

const iso = (ms: number | undefined) => (ms === undefined ? 'unknown' : new Date(ms).toISOString());

/** The consent key of a skip reason written by define.ts (`consent: ad_storage` or `consent: ad_user_data (GPC)`). */
function consentOf(detail: string | undefined): { key: string; gpc: boolean } | undefined {
  const m = /^consent: (\w+)( \(GPC\))?$/.exec(detail ?? '');
  return m ? { key: m[1]!, gpc: !!m[2] } : undefined;
}

/** The verdict of one recorded delivery. */
function fromDelivery(d: DeliveryRecord, destination: Destination | undefined, lane: LaneStatus | undefined): DestinationVerdict {
  const name = d.destination;
  const base = {
    destination: name,
    configured: destination !== undefined,
    state: d.state,
    attempts: d.attempts,
    status: d.status,
    updatedAt: d.updatedAt,
    request: d.request,
  };
  const response = d.status !== undefined || d.detail ? { status: d.status, body: d.detail } : undefined;
  switch (d.state) {
    case 'delivered':
      if (d.status === undefined && d.detail?.startsWith('dry run')) {
        return { ...base, verdict: 'dry-run', reason: `dry run: the request was built and recorded, not sent (destinations.${name}.dryRun)` };
      }
      return {
        ...base,
        verdict: 'delivered',
        reason: `${name} accepted it${d.status !== undefined ? ` (HTTP ${d.status})` : ''}${d.detail ? `: ${d.detail}` : ''}`,
        response,
      };
    case 'skipped': {
      const consent = consentOf(d.detail);
      if (consent) {
        return {
          ...base,
          verdict: 'skipped',
          consentKey: consent.key,
          reason: consent.gpc
            ? `not sent: the visitor has Global Privacy Control on, which denies ${consent.key}, a key destinations.${name}.consent requires`
            : `not sent: the event denies ${consent.key}, a key destinations.${name}.consent requires`,
        };
      }
      return { ...base, verdict: 'skipped', reason: `not sent: ${d.detail ?? 'skipped'}` };
    }
    case 'rejected':
      return {
        ...base,
        verdict: 'rejected',
        reason:
          d.status !== undefined
            ? `${name} refused it (HTTP ${d.status}): ${d.detail ?? 'no message'}`
            : `cannot be sent to ${name}: ${d.detail ?? 'no reason recorded'}`,
        response,
      };
    case 'dead':
      return { ...base, verdict: 'dead', reason: `dead letter (tagrelay replay re-queues it): ${d.detail ?? 'gave up'}`, response };
    case 'pending': {
      const laneInfo = lane && lane.state !== 'active' ? { state: lane.state, reason: lane.reason, blockedUntil: lane.blockedUntil } : undefined;
      const waiting =
        lane?.state === 'paused'
          ? `; ${name} is paused (credentials refused: fix the key and restart), its events wait`
          : lane?.state === 'backing-off'
            ? `; ${name} is backing off${lane.blockedUntil ? ` until ${iso(lane.blockedUntil)}` : ''}`
            : '';
      let reason: string;
      const status = d.status !== undefined ? ` (HTTP ${d.status})` : '';
      if (d.inFlight) reason = `being sent now (attempt ${d.attempts + 1})`;
      else if (d.attempts === 0 && !d.detail) reason = `waiting for its first attempt, due ${iso(d.nextAt)}${waiting}`;
      // Waiting without a counted attempt: a refused key (the destination pauses), or the destination waits for something.
      else if (d.attempts === 0) reason = `waiting${status}: ${d.detail}; next attempt at ${iso(d.nextAt)}${waiting}`;
      else
        reason = `attempt ${d.attempts} failed${status}: ${d.detail ?? 'no message'}; next attempt at ${iso(d.nextAt)}${waiting}`;
      return {
        ...base,
        verdict: 'pending',
        reason,
        nextAt: d.nextAt,
        inFlight: d.inFlight,
        lastError: d.detail,
        response: d.status !== undefined ? response : undefined,
        lane: laneInfo,
      };
    }
  }
}

/**
 * Every configured destination's verdict on `event` (in the config's order), then any delivery to a
 * destination no longer configured. An event a destination has no delivery for is `not-routed`: its
 * name was not in the destination's routing setting when it arrived; the reason names the setting.
 */
export function verdictsOf(
  event: Pick<StoredEvent, 'id' | 'name'>,
  deliveries: readonly DeliveryRecord[],
  destinations: readonly Destination[],
  lanes: readonly LaneStatus[] = [],
): DestinationVerdict[] {
  const mine = deliveries.filter((d) => d.eventId === event.id);
  const out: DestinationVerdict[] = [];
  for (const dest of destinations) {
    const vendorEvent = dest.vendorEvent(event.name);
    const d = mine.find((x) => x.destination === dest.name);
    const setting = `destinations.${dest.name}.${dest.routeSetting}`;
    if (d) {
      out.push({ ...fromDelivery(d, dest, lanes.find((l) => l.destination === dest.name)), vendorEvent });
    } else if (vendorEvent === undefined) {
      out.push({
        destination: dest.name,
        configured: true,
        verdict: 'not-routed',
        setting,
        reason: `no mapping for "${event.name}": add "${event.name}" to ${setting} to send it to ${dest.name}${
          dest.routedEvents.length ? ` (it takes ${dest.routedEvents.join(', ')})` : ' (it takes no event yet)'
        }`,
      });
    } else {
      out.push({
        destination: dest.name,
        configured: true,
        verdict: 'not-routed',
        setting,
        vendorEvent,
        reason: `"${event.name}" was not routed to ${dest.name} when it arrived (${setting} routes it now; events are routed as they arrive)`,
      });
    }
  }
  for (const d of mine) {
    if (!destinations.some((dest) => dest.name === d.destination)) out.push(fromDelivery(d, undefined, undefined));
  }
  return out;
}

/** The debug page's filters on verdicts: a destination (the events it takes), a verdict (at any destination), or both. */
export function matchesVerdict(verdicts: readonly DestinationVerdict[], destination?: string, verdict?: string): boolean {
  if (!destination && !verdict) return true;
  return verdicts.some(
    (v) =>
      (!destination || v.destination === destination) &&
      (verdict ? v.verdict === verdict : v.verdict !== 'not-routed'),
  );
}
