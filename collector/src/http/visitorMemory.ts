import type { RequestContext, TrackedEvent } from '../event.js';
import type { Store, VisitorUpdate } from '../store/types.js';

export interface Incoming {
  event: TrackedEvent;
  context: RequestContext;
  destinations: string[];
}

/**
 * Click ids kept on the server: what a browser event says of its visitor (click ids, consent) is
 * remembered for `attributionDays`, and an event that goes somewhere without click ids (storage wiped by
 * Safari, another device page, the shop's backend) gets the visitor's remembered ones in its context;
 * a backend event without consent gets the visitor's latest from the browser. The event as sent is left
 * as it is (its id's digest does not change); destinations read `context.clickIds` / `context.consent`
 * when the event has none.
 */
export async function withVisitorMemory<T extends Incoming>(items: T[], store: Store, windowMs: number, fromServer: boolean): Promise<T[]> {
  const now = Date.now();
  const wanted = new Set<string>();
  for (const { event, destinations } of items) {
    if (!event.anonymousId || !destinations.length) continue;
    if (!event.clickIds || (fromServer && !event.consent)) wanted.add(event.anonymousId);
  }
  if (!wanted.size) return items;
  const memory = await store.visitors([...wanted], now - windowMs);
  if (!memory.size) return items;
  return items.map((item) => {
    const remembered = item.event.anonymousId ? memory.get(item.event.anonymousId) : undefined;
    if (!remembered || !item.destinations.length) return item;
    const context: RequestContext = { ...item.context };
    if (!item.event.clickIds) {
      const live = Object.entries(remembered.clickIds).filter(([, [, at]]) => now - at < windowMs);
      if (live.length) context.clickIds = Object.fromEntries(live.map(([k, [v]]) => [k, v]));
    }
    if (fromServer && !item.event.consent && remembered.consent) context.consent = remembered.consent;
    return { ...item, context };
  });
}

/** What browser events tell of their visitors, to remember: one update per visitor (a batch is usually one). */
export function visitorUpdates(items: Incoming[]): VisitorUpdate[] {
  const byVisitor = new Map<string, VisitorUpdate>();
  for (const { event } of items) {
    if (!event.anonymousId || (!event.clickIds && !event.consent)) continue;
    const seen = byVisitor.get(event.anonymousId);
    const later = !seen || event.time >= seen.at;
    byVisitor.set(event.anonymousId, {
      anonymousId: event.anonymousId,
      clickIds: later ? { ...seen?.clickIds, ...event.clickIds } : { ...event.clickIds, ...seen?.clickIds },
      consent: later ? (event.consent ?? seen?.consent) : (seen?.consent ?? event.consent),
      at: Math.max(event.time, seen?.at ?? 0),
    });
  }
  return [...byVisitor.values()];
}

/** How many visitors' last remembered state a process keeps, to skip writing what did not change. */
const KEPT = 50_000;

/** Whether two flat records (click ids, consent) hold the same values, in any order. */
function sameValues(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  let keys = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    keys++;
  }
  for (const _ in b) keys--;
  return keys === 0;
}

/**
 * Drops the updates that would write what this process already wrote for the visitor (the same click
 * ids and consent: a visitor's events repeat them on every page), so the store is written when
 * something changed, not once per request. The capture time stays that of the first sighting.
 */
export class VisitorWrites {
  private readonly written = new Map<string, Pick<VisitorUpdate, 'clickIds' | 'consent'>>();

  changed(updates: VisitorUpdate[]): VisitorUpdate[] {
    return updates.filter((u) => {
      const last = this.written.get(u.anonymousId);
      if (last && sameValues(last.clickIds, u.clickIds) && sameValues(last.consent, u.consent)) return false;
      this.written.delete(u.anonymousId);
      this.written.set(u.anonymousId, { clickIds: u.clickIds, consent: u.consent });
      if (this.written.size > KEPT) this.written.delete(this.written.keys().next().value!);
      return true;
    });
  }
}
