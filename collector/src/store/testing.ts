// The behaviour every Store must have, as one test suite each store runs (sqlite.test.ts, postgres.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emailKey } from '../emailKey.js';
import type { RequestContext, TrackedEvent } from '../event.js';
import type { NewEvent, Store } from './types.js';

/** A store for one test, fresh and empty; `close` closes and removes it. */
export interface StoreUnderTest {
  store: Store;
  close(): Promise<void>;
}

export const contextOf = (receivedAt = Date.now(), ip = '203.0.113.7'): RequestContext => ({ receivedAt, ip });

export const trackedEvent = (id: string, time = Date.now(), extra: Partial<TrackedEvent> = {}): TrackedEvent => ({
  id,
  name: 'purchase',
  time,
  properties: { value: 1, user_data: { email: 'a@b.example' } },
  ...extra,
});

export const newEvent = (id: string, destinations: string[], receivedAt = Date.now()): NewEvent => ({
  event: trackedEvent(id, receivedAt),
  context: contextOf(receivedAt),
  destinations,
});

/**
 * An event of a person (a visitor, `anonymousId`), as /collect stores it: with the key of its email in its
 * context (http/collect.ts), which outlives `user_data`.
 */
export const personEvent = (
  id: string,
  anonymousId: string,
  properties: Record<string, unknown>,
  destinations = ['a'],
  time = Date.now(),
): NewEvent => {
  const email = (properties.user_data as { email?: string | string[] } | undefined)?.email;
  const first = Array.isArray(email) ? email[0] : email;
  return {
    event: { id, name: 'purchase', time, anonymousId, properties },
    context: first ? { ...contextOf(time), emailKey: emailKey(first) } : contextOf(time),
    destinations,
  };
};

export function describeStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: the Store contract`, () => {
    let t: StoreUnderTest;
    let store: Store;
    beforeEach(async () => {
      t = await open();
      store = t.store;
    });
    afterEach(() => t.close());

    it('stores an event id once, with one delivery per destination', async () => {
      const event = newEvent('evt-00000001', ['a', 'b']);
      expect(await store.ingest([event])).toEqual({ stored: 1, duplicates: 0, conflicts: [] });
      // The same event again, from another request (other context): a repeat.
      const again = { ...event, context: contextOf(Date.now() + 5000, '198.51.100.1') };
      expect(await store.ingest([again])).toEqual({ stored: 0, duplicates: 1, conflicts: [] });
      expect(await store.queueDepth()).toEqual(
        new Map([
          ['a', 1],
          ['b', 1],
        ]),
      );
    });

    it('tells an id reused by another event (a conflict) from a repeat, and keeps the conflict without personal data', async () => {
      const time = Date.now();
      const first = { event: trackedEvent('evt-00000001', time), context: contextOf(time), destinations: ['a'] };
      await store.ingest([first]);
      const other = {
        event: trackedEvent('evt-00000001', time, {
          name: 'sign_up',
          properties: { value: 99, user_data: { email: 'other@b.example' } },
        }),
        context: contextOf(time + 10),
        destinations: ['a'],
      };
      const repeat = { ...first, context: contextOf(time + 20) };
      expect(await store.ingest([repeat, other, newEvent('evt-00000002', ['a'])])).toEqual({
        stored: 1,
        duplicates: 1,
        conflicts: [1],
      });
      expect(await store.queueDepth()).toEqual(new Map([['a', 2]]));
      const [conflict, ...more] = await store.recentConflicts(10);
      expect(more).toEqual([]);
      expect(conflict).toMatchObject({ eventId: 'evt-00000001', name: 'sign_up', receivedAt: time + 10 });
      expect(JSON.parse(conflict!.body)).toEqual({ id: 'evt-00000001', name: 'sign_up', time, properties: { value: 99 } });
      // What was stored first is what stays.
      const [stored] = (await store.recentEvents(5)).filter((e) => e.id === 'evt-00000001');
      expect(stored).toMatchObject({ name: 'purchase', properties: { value: 1 } });
    });

    it('tells repeats and conflicts in a batch of many events, an id twice in it among them', async () => {
      const time = Date.now();
      const earlier = { event: trackedEvent('evt-batch-03', time), context: contextOf(time), destinations: ['a'] };
      await store.ingest([earlier]);
      const batch = Array.from({ length: 12 }, (_, i) => newEvent(`evt-batch-${String(i).padStart(2, '0')}`, ['a']));
      batch[3] = { ...earlier, context: contextOf(time + 5) }; // stored before: a repeat
      batch[5] = batch[1]!; // the same event twice in one batch: a repeat
      batch[7] = { ...batch[2]!, event: { ...batch[2]!.event, name: 'sign_up' } }; // another event with 2's id: a conflict
      batch[11] = { ...batch[10]!, context: contextOf(time + 9) }; // past the first ten: a repeat
      expect(await store.ingest(batch)).toEqual({ stored: 8, duplicates: 3, conflicts: [7] });
      expect(await store.queueDepth()).toEqual(new Map([['a', 9]]));
      const claimed = await store.claim('a', 20, Date.now(), 60_000);
      expect(claimed.map((d) => d.event.id).sort()).toEqual(['00', '01', '02', '03', '04', '06', '08', '09', '10'].map((n) => `evt-batch-${n}`));
      // What was stored first is what stays.
      expect(claimed.find((d) => d.event.id === 'evt-batch-02')!.event.name).toBe(batch[2]!.event.name);
    });

    it('keeps text beyond ASCII as it came, as it arrived or written again, and tells its repeat from a conflict', async () => {
      const time = Date.now();
      const properties = { item_name: 'Crème brûlée 🍮', note: '東京 — “quoted”', value: 1 };
      const context = { ...contextOf(time), userAgent: 'Navigateur/1.0 (Français; 日本語)' };
      const event = { id: 'evt-utf8-0001', name: 'purchase', time, properties };
      // The first as /collect passes an event unchanged (its text as it arrived), the second written again.
      const arrived: NewEvent = { event, json: JSON.stringify(event), context, destinations: ['a'] };
      const second = { event: { ...event, id: 'evt-utf8-0002' }, context, destinations: ['a'] };
      expect(await store.ingest([arrived, second])).toEqual({ stored: 2, duplicates: 0, conflicts: [] });
      const changed = { event: { ...event, properties: { ...properties, item_name: 'Crème brûlée 🍰' } }, context, destinations: ['a'] };
      expect(await store.ingest([{ ...arrived, context: contextOf(time + 5) }, changed])).toEqual({ stored: 0, duplicates: 1, conflicts: [1] });
      const claimed = await store.claim('a', 10, Date.now(), 60_000);
      expect(claimed.map((d) => [d.event.id, d.event.properties, d.event.context.userAgent])).toEqual([
        ['evt-utf8-0001', properties, context.userAgent],
        ['evt-utf8-0002', properties, context.userAgent],
      ]);
    });

    it('leases a claimed delivery until it is reported, then counts it by its new state', async () => {
      await store.ingest([1, 2, 3].map((i) => newEvent(`evt-0000000${i}`, ['a'])));
      const first = await store.claim('a', 2, Date.now(), 60_000);
      expect(first.map((c) => c.event.id)).toEqual(['evt-00000001', 'evt-00000002']);
      expect(first[0]!.event.context.ip).toBe('203.0.113.7');
      const second = await store.claim('a', 5, Date.now(), 60_000);
      expect(second.map((c) => c.event.id)).toEqual(['evt-00000003']); // the leased two are not handed out again
      await store.update([{ id: first[0]!.id, state: 'delivered', attempted: true, status: 202 }]);
      await store.update([{ id: first[1]!.id, state: 'pending', nextAt: Date.now() - 1, attempted: true }]);
      expect((await store.claim('a', 5, Date.now(), 60_000)).map((c) => c.event.id)).toEqual(['evt-00000002']);
      const [stats] = await store.stats();
      expect(stats).toMatchObject({ destination: 'a', pending: 2, delivered: 1, dead: 0 });
      expect(stats!.oldestPendingAt).toBeGreaterThan(0);
    });

    it('hands a delivery out again once its lease has run out without a report (its lane could not go on)', async () => {
      await store.ingest([newEvent('evt-lapsed-01', ['a'])]);
      const t0 = Date.now();
      const [first] = await store.claim('a', 1, t0, 300);
      expect(first).toBeDefined();
      expect(await store.claim('a', 1, t0 + 100, 300)).toEqual([]); // leased
      // A claim reads the due index again at most every second: past both, the lapsed lease is gone.
      await new Promise((r) => setTimeout(r, 1100));
      const [again] = await store.claim('a', 1, Date.now(), 60_000);
      expect(again?.id).toBe(first!.id);
      await store.update([{ id: again!.id, state: 'delivered', attempted: true, status: 202 }]);
      expect((await store.stats())[0]).toMatchObject({ pending: 0, delivered: 1 });
    });

    it('makes waiting deliveries due again at once, and never touches one that is done', async () => {
      await store.ingest([1, 2].map((i) => newEvent(`evt-0000000${i}`, ['a'])));
      const [d1, d2] = await store.claim('a', 2, Date.now(), 60_000);
      const later = Date.now() + 3_600_000;
      await store.update([
        { id: d1!.id, state: 'pending', nextAt: later, attempted: true },
        { id: d2!.id, state: 'delivered', attempted: true, status: 200 },
      ]);
      expect(await store.claim('a', 5, Date.now(), 60_000)).toEqual([]);
      await store.retryNow([d1!.id, d2!.id], Date.now());
      const due = await store.claim('a', 5, Date.now(), 60_000);
      expect(due.map((d) => d.id)).toEqual([d1!.id]);
      expect(due[0]!.attempts).toBe(1);
      expect((await store.stats())[0]).toMatchObject({ pending: 1, delivered: 1 });
    });

    it('drops personal data once every delivery of the event is done, not before', async () => {
      await store.ingest([newEvent('evt-00000001', ['a', 'b'])]);
      const [a] = await store.claim('a', 1, Date.now(), 60_000);
      await store.update([
        { id: a!.id, state: 'delivered', attempted: true, status: 202, request: 'POST x\n{}\n{"email":"a@b.example"}' },
      ]);
      expect((await store.recentEvents(1))[0]!.properties).toHaveProperty('user_data');
      const [b] = await store.claim('b', 1, Date.now(), 60_000);
      await store.update([{ id: b!.id, state: 'skipped', detail: 'consent' }]);
      expect((await store.recentEvents(1))[0]!.properties).toEqual({ value: 1 });
      const deliveries = await store.recentDeliveries(10);
      expect(deliveries.find((d) => d.destination === 'a')!.request).toBe('POST x [body removed after delivery]');
      // The delivery that completes its event keeps only the first line of its own request too.
      await store.ingest([newEvent('evt-00000002', ['a'])]);
      const [c] = await store.claim('a', 1, Date.now(), 60_000);
      await store.update([{ id: c!.id, state: 'delivered', attempted: true, status: 202, request: 'POST y\n{}\n{"email":"c@d.example"}' }]);
      expect((await store.recentDeliveries(1))[0]!.request).toBe('POST y [body removed after delivery]');
      expect((await store.recentEvents(1))[0]!.properties).toEqual({ value: 1 });
    });

    it('re-queues dead letters, and refused deliveries only when asked, with progress', async () => {
      await store.ingest([1, 2, 3].map((i) => newEvent(`evt-0000000${i}`, ['a'])));
      const [d1, d2, d3] = await store.claim('a', 3, Date.now(), 60_000);
      await store.update([
        { id: d1!.id, state: 'dead', attempted: true, detail: 'gave up' },
        { id: d2!.id, state: 'rejected', attempted: true, status: 400, detail: 'refused' },
        { id: d3!.id, state: 'delivered', attempted: true },
      ]);
      const progress: [number, number][] = [];
      expect(await store.requeue('a', ['dead'], 0, (done, total) => progress.push([done, total]))).toBe(1);
      expect(progress).toEqual([
        [0, 1],
        [1, 1],
      ]);
      expect(await store.queueDepth()).toEqual(new Map([['a', 1]]));
      expect((await store.claim('a', 5, Date.now(), 60_000)).map((d) => d.id)).toEqual([d1!.id]);
      expect(await store.requeue('a', ['dead', 'rejected'], 0)).toBe(1);
      expect((await store.stats())[0]).toMatchObject({ pending: 2, rejected: 0, dead: 0, delivered: 1 });
      expect(await store.requeue('a', ['dead', 'rejected'], Date.now() + 60_000)).toBe(0);
    });

    it('forgets a person: by email (and the visitor it was seen with), by user id, by anonymous id', async () => {
      const time = Date.now();
      const person = (id: string, anonymousId: string, properties: Record<string, unknown>, destinations = ['a']) =>
        personEvent(id, anonymousId, properties, destinations, time);
      await store.ingest([
        person('evt-ann-00001', 'v-ann', { user_data: { email: 'Ann@Example.com' } }),
        person('evt-ann-00002', 'v-ann', { value: 1 }, ['a', 'b']), // no email: found by its visitor
        person('evt-bob-00001', 'v-bob', { user_id: 'u-9' }),
        person('evt-cy-000001', 'v-cy', { user_data: { email: ['cy@example.com'] } }),
      ]);
      // A conflict on Ann's id (kept for /debug) goes with her.
      await store.ingest([person('evt-ann-00001', 'v-ann', { value: 2 })]);
      expect(await store.recentConflicts(10)).toHaveLength(1);

      // Ann's first event was delivered: its personal data is gone, the key to it is not.
      const [delivered] = await store.claim('a', 1, Date.now(), 60_000);
      await store.update([{ id: delivered!.id, state: 'delivered', attempted: true, status: 200 }]);
      expect((await store.recentEvents(10)).find((e) => e.id === 'evt-ann-00001')!.properties).toEqual({});
      expect(await store.forget({ email: ' ANN@example.com ' })).toEqual({ events: 2, deliveries: 3, conflicts: 1 });
      expect(await store.forget({ userId: 'u-9' })).toEqual({ events: 1, deliveries: 1, conflicts: 0 });
      expect(await store.forget({ email: 'cy@example.com' })).toEqual({ events: 1, deliveries: 1, conflicts: 0 });
      expect(await store.forget({ anonymousId: 'v-nobody' })).toEqual({ events: 0, deliveries: 0, conflicts: 0 });
      expect(await store.recentEvents(10)).toEqual([]);
      expect(await store.recentConflicts(10)).toEqual([]);
      expect(await store.queueDepth()).toEqual(new Map([['a', 0], ['b', 0]]));
    });

    it('forgets a person by email: their events and their visitor\'s, the deliveries with their recorded requests, id conflicts and remembered click ids; another person keeps all of theirs', async () => {
      const time = Date.now();
      await store.ingest([
        personEvent('evt-mail-ann-1', 'v-mail-ann', { user_data: { email: 'Ann@Example.com' } }, ['a', 'b'], time),
        personEvent('evt-mail-ann-2', 'v-mail-ann', { value: 2 }, ['a'], time), // no email: found by its visitor
        personEvent('evt-mail-bob-1', 'v-mail-bob', { user_data: { email: 'bob@example.com' } }, ['a', 'b'], time),
        personEvent('evt-mail-bob-2', 'v-mail-bob', { value: 2 }, ['a'], time),
      ]);
      // Each id reused by another event: a conflict of Ann's and one of Bob's.
      const reused = await store.ingest([
        personEvent('evt-mail-ann-2', 'v-mail-ann', { value: 3 }, ['a'], time),
        personEvent('evt-mail-bob-2', 'v-mail-bob', { value: 3 }, ['a'], time),
      ]);
      expect(reused.conflicts).toEqual([0, 1]);
      await store.rememberVisitors([
        { anonymousId: 'v-mail-ann', clickIds: { irclickid: 'ir-ann' }, consent: { ad_storage: 'granted' }, at: time },
        { anonymousId: 'v-mail-bob', clickIds: { irclickid: 'ir-bob' }, consent: { ad_storage: 'granted' }, at: time },
      ]);
      // Requests recorded for both: refused ones keep their (masked) bodies, a delivered one its first line.
      const sent = await store.claim('a', 10, Date.now(), 60_000);
      expect(sent.map((d) => d.event.id)).toEqual(['evt-mail-ann-1', 'evt-mail-ann-2', 'evt-mail-bob-1', 'evt-mail-bob-2']);
      const [ann1, ann2, bob1, bob2] = sent;
      await store.update([
        { id: ann1!.id, state: 'rejected', attempted: true, status: 400, detail: 'refused', request: 'POST https://a.example/for-ann\n{}\n{"OrderId":"ann"}' },
        { id: ann2!.id, state: 'delivered', attempted: true, status: 200, request: 'POST https://a.example/for-ann-2\n{}\n{}' },
        { id: bob1!.id, state: 'rejected', attempted: true, status: 400, detail: 'refused', request: 'POST https://a.example/for-bob\n{}\n{"OrderId":"bob"}' },
        { id: bob2!.id, state: 'delivered', attempted: true, status: 200, request: 'POST https://a.example/for-bob-2\n{}\n{}' },
      ]);
      const requests = async () => (await store.recentDeliveries(50)).map((d) => d.request ?? '');
      expect((await requests()).filter((r) => r.includes('/for-ann'))).toHaveLength(2);
      expect(await store.queueDepth()).toEqual(new Map([['a', 0], ['b', 2]]));

      expect(await store.forget({ email: 'ann@EXAMPLE.com' })).toEqual({ events: 2, deliveries: 3, conflicts: 1 });

      expect((await store.recentEvents(10)).map((e) => e.id).sort()).toEqual(['evt-mail-bob-1', 'evt-mail-bob-2']);
      expect(await store.findEvents({ id: 'evt-mail-ann-1', limit: 10 })).toEqual([]);
      expect(await store.eventDeliveries(['evt-mail-ann-1', 'evt-mail-ann-2'])).toEqual([]);
      expect((await store.recentDeliveries(50)).map((d) => [d.eventId, d.destination]).sort()).toEqual([
        ['evt-mail-bob-1', 'a'],
        ['evt-mail-bob-1', 'b'],
        ['evt-mail-bob-2', 'a'],
      ]);
      expect((await requests()).filter((r) => r.includes('/for-ann'))).toEqual([]);
      expect((await requests()).filter((r) => r.includes('/for-bob'))).toHaveLength(2);
      expect((await store.recentConflicts(10)).map((c) => c.eventId)).toEqual(['evt-mail-bob-2']);
      // Ann's remembered click ids and consent are gone; Bob's stay.
      expect([...(await store.visitors(['v-mail-ann', 'v-mail-bob'], 0)).keys()]).toEqual(['v-mail-bob']);
      expect(await store.queueDepth()).toEqual(new Map([['a', 0], ['b', 1]]));
      // Bob's pending delivery is still handed out.
      expect((await store.claim('b', 10, Date.now(), 60_000)).map((d) => d.event.id)).toEqual(['evt-mail-bob-1']);
      // Nothing of Ann's is left to find.
      expect(await store.forget({ email: 'ann@example.com' })).toEqual({ events: 0, deliveries: 0, conflicts: 0 });
    });

    it('forgets a person by user id: their events and their visitor\'s, the deliveries with their recorded requests, the id conflicts that carry it and remembered click ids; another person keeps all of theirs', async () => {
      const time = Date.now();
      await store.ingest([
        personEvent('evt-uid-ann-01', 'v-uid-ann', { user_id: 'u-ann', value: 1 }, ['a', 'b'], time),
        personEvent('evt-uid-ann-02', 'v-uid-ann', { user_id: 'u-ann', value: 2 }, ['a'], time),
        personEvent('evt-uid-ann-03', 'v-uid-ann', { value: 3 }, [], time), // before she logged in: found by her visitor
        personEvent('evt-uid-bob-01', 'v-uid-bob', { user_id: 'u-bob', value: 1 }, ['a', 'b'], time),
        personEvent('evt-uid-dan-01', 'v-uid-dan', { user_id: 77, value: 1 }, ['a'], time), // a site's numeric user id
      ]);
      // Conflicts: Ann's id reused; Bob's id reused by an event of Ann's (her data, under his id); Bob's id by his own.
      const reused = await store.ingest([
        personEvent('evt-uid-ann-01', 'v-uid-ann', { user_id: 'u-ann', value: 9 }, ['a'], time),
        personEvent('evt-uid-bob-01', 'v-uid-ann', { user_id: 'u-ann', value: 8 }, ['a'], time),
        personEvent('evt-uid-bob-01', 'v-uid-bob', { user_id: 'u-bob', value: 7 }, ['a'], time),
      ]);
      expect(reused.conflicts).toEqual([0, 1, 2]);
      await store.rememberVisitors([
        { anonymousId: 'v-uid-ann', clickIds: { irclickid: 'ir-ann' }, consent: { ad_storage: 'granted' }, at: time },
        { anonymousId: 'v-uid-bob', clickIds: { irclickid: 'ir-bob' }, at: time },
      ]);
      const sent = await store.claim('a', 10, Date.now(), 60_000);
      expect(sent.map((d) => d.event.id)).toEqual(['evt-uid-ann-01', 'evt-uid-ann-02', 'evt-uid-bob-01', 'evt-uid-dan-01']);
      await store.update(
        sent.map((d) => ({ id: d.id, state: 'rejected' as const, attempted: true, status: 422, request: `POST https://a.example/for-${d.event.id}\n{}\n{}` })),
      );
      const requests = async () => (await store.recentDeliveries(50)).map((d) => d.request ?? '');
      expect((await requests()).filter((r) => r.includes('/for-evt-uid-ann'))).toHaveLength(2);

      expect(await store.forget({ userId: 'u-ann' })).toEqual({ events: 3, deliveries: 3, conflicts: 2 });
      // Ann's remembered click ids and consent are gone; Bob's stay.
      expect([...(await store.visitors(['v-uid-ann', 'v-uid-bob'], 0)).keys()]).toEqual(['v-uid-bob']);

      expect((await store.recentEvents(10)).map((e) => e.id).sort()).toEqual(['evt-uid-bob-01', 'evt-uid-dan-01']);
      expect(await store.eventDeliveries(['evt-uid-ann-01', 'evt-uid-ann-02'])).toEqual([]);
      expect((await requests()).filter((r) => r.includes('/for-evt-uid-ann'))).toEqual([]);
      expect((await requests()).filter((r) => r.includes('/for-evt-uid-bob-01'))).toHaveLength(1);
      expect((await store.recentConflicts(10)).map((c) => JSON.parse(c.body).properties)).toEqual([{ user_id: 'u-bob', value: 7 }]);
      expect(await store.queueDepth()).toEqual(new Map([['a', 0], ['b', 1]]));
      // A user id the site sends as a number is found by its text, as `tagrelay forget --user-id 77` gives it.
      expect(await store.forget({ userId: '77' })).toEqual({ events: 1, deliveries: 1, conflicts: 0 });
      expect((await store.recentEvents(10)).map((e) => e.id)).toEqual(['evt-uid-bob-01']);
      expect(await store.forget({ userId: 'u-ann' })).toEqual({ events: 0, deliveries: 0, conflicts: 0 });
    });

    it('finds events for the debug page: by id however old, by name, click id and time among the newest; and their deliveries', async () => {
      const t = Date.now() - 60_000;
      const at = (id: string, name: string, receivedAt: number, clickIds?: Record<string, string>): NewEvent => ({
        event: { ...trackedEvent(id, receivedAt), name, ...(clickIds ? { clickIds } : {}) },
        context: contextOf(receivedAt),
        destinations: name === 'page_view' ? [] : ['a', 'b'],
      });
      await store.ingest([
        at('evt-find-0001', 'purchase', t, { clickid: 'imp-1', ndclid: 'nd-1' }),
        at('evt-find-0002', 'page_view', t + 1000),
        at('evt-find-0003', 'purchase', t + 2000, { clickid: 'imp-2' }),
        at('evt-find-0004', 'sign_up', t + 3000),
      ]);
      const ids = (events: { id: string }[]) => events.map((e) => e.id);
      expect(ids(await store.findEvents({ limit: 10 }))).toEqual(['evt-find-0004', 'evt-find-0003', 'evt-find-0002', 'evt-find-0001']);
      expect(ids(await store.findEvents({ limit: 2 }))).toEqual(['evt-find-0004', 'evt-find-0003']);
      expect(ids(await store.findEvents({ name: 'purchase', limit: 10 }))).toEqual(['evt-find-0003', 'evt-find-0001']);
      expect(ids(await store.findEvents({ clickId: 'nd-1', limit: 10 }))).toEqual(['evt-find-0001']);
      expect(ids(await store.findEvents({ clickId: 'nd', limit: 10 }))).toEqual([]);
      expect(ids(await store.findEvents({ since: t + 1000, until: t + 2000, limit: 10 }))).toEqual(['evt-find-0003', 'evt-find-0002']);
      // Within the newest `window` events only, unless by id.
      expect(ids(await store.findEvents({ name: 'purchase', window: 2, limit: 10 }))).toEqual(['evt-find-0003']);
      const [found] = await store.findEvents({ id: 'evt-find-0001', window: 1, limit: 10 });
      expect(found).toMatchObject({ id: 'evt-find-0001', name: 'purchase', clickIds: { clickid: 'imp-1' }, context: { ip: '203.0.113.7' } });
      expect(await store.findEvents({ id: 'evt-find-0001', name: 'sign_up', limit: 10 })).toEqual([]);
      expect(await store.findEvents({ id: 'evt-nowhere-1', limit: 10 })).toEqual([]);

      // Deliveries of given events: a waiting one says when it is due next; one being sent says so.
      const [a1, a3] = await store.claim('a', 2, Date.now(), 60_000);
      const later = Date.now() + 3_600_000;
      await store.update([
        { id: a1!.id, state: 'pending', nextAt: later, attempted: true, status: 503, detail: 'Service Unavailable', request: 'POST x\n{}\n{}' },
      ]);
      const deliveries = await store.eventDeliveries(['evt-find-0001', 'evt-find-0003', 'evt-find-0002', 'evt-nowhere-1']);
      expect(deliveries.map((d) => [d.eventId, d.destination])).toEqual([
        ['evt-find-0001', 'a'],
        ['evt-find-0001', 'b'],
        ['evt-find-0003', 'a'],
        ['evt-find-0003', 'b'],
      ]);
      expect(deliveries[0]).toMatchObject({ eventName: 'purchase', state: 'pending', attempts: 1, status: 503, detail: 'Service Unavailable', nextAt: later, inFlight: false });
      expect(deliveries[0]!.request).toContain('POST x');
      expect(deliveries[2]).toMatchObject({ id: a3!.id, state: 'pending', inFlight: true, nextAt: undefined });
      expect(deliveries[1]).toMatchObject({ state: 'pending', inFlight: false });
      expect(deliveries[1]!.nextAt).toBeGreaterThan(0);
      expect(await store.eventDeliveries([])).toEqual([]);
    });

    it('remembers a visitor\'s click ids (the latest of each, with its capture time) and consent; purges and forgets them', async () => {
      const day = 86_400_000;
      const t0 = Date.now() - 12 * day;
      await store.rememberVisitors([
        { anonymousId: 'v-1', clickIds: { irclickid: 'ir-old', ndclid: 'nd-1' }, consent: { ad_storage: 'granted' }, at: t0 },
        { anonymousId: 'v-2', clickIds: { clickid: 'c-2' }, at: t0 - 40 * day },
      ]);
      await store.rememberVisitors([{ anonymousId: 'v-1', clickIds: { irclickid: 'ir-new' }, at: t0 + day }]);
      // An update that arrives late (tracked earlier) does not win over what is newer.
      await store.rememberVisitors([{ anonymousId: 'v-1', clickIds: { irclickid: 'ir-older' }, consent: { ad_storage: 'denied' }, at: t0 - day }]);
      const memory = await store.visitors(['v-1', 'v-2', 'v-3'], Date.now() - 30 * day);
      expect([...memory.keys()]).toEqual(['v-1']); // v-2 is past the window, v-3 unknown
      expect(memory.get('v-1')).toEqual({
        clickIds: { irclickid: ['ir-new', t0 + day], ndclid: ['nd-1', t0] },
        consent: { ad_storage: 'granted' },
        updatedAt: t0 + day,
      });
      const cutoffs = { deliveredBefore: 0, deadBefore: 0, unroutedBefore: 0, visitorsBefore: Date.now() - 30 * day };
      await store.purge(cutoffs);
      expect((await store.visitors(['v-2'], 0)).size).toBe(0);
      await store.forget({ anonymousId: 'v-1' });
      expect((await store.visitors(['v-1'], 0)).size).toBe(0);
    });

    it('lets one delivery send a conversion to a destination: the first to claim it, again and again', async () => {
      const claim = (conversion: string, destination: string, deliveryId: number) => ({ conversion, destination, deliveryId });
      expect(await store.claimConversions([claim('purchase:T-1', 'impact', 11), claim('purchase:T-1', 'impact', 12)])).toEqual([true, false]);
      // A retry of the same delivery keeps it; another destination is another claim.
      expect(await store.claimConversions([claim('purchase:T-1', 'impact', 11), claim('purchase:T-1', 'nextdoor', 12)])).toEqual([true, true]);
      const racing = await Promise.all([21, 22, 23, 24].map((id) => store.claimConversions([claim('purchase:T-2', 'impact', id)])));
      expect(racing.flat().filter(Boolean)).toHaveLength(1);
      expect(await store.claimConversions([])).toEqual([]);
    });

    it('purges only what retention allows', async () => {
      const old = Date.now() - 10 * 86_400_000;
      const twoHoursAgo = Date.now() - 2 * 3_600_000;
      await store.ingest([
        newEvent('evt-00000001', ['a'], old),
        newEvent('evt-00000002', ['a'], old),
        newEvent('evt-00000003', ['a'], old),
        newEvent('evt-00000004', ['a']),
        newEvent('evt-unrouted-1', [], twoHoursAgo),
        newEvent('evt-unrouted-2', []),
      ]);
      const [d1, d2] = await store.claim('a', 2, Date.now(), 60_000);
      await store.update([
        { id: d1!.id, state: 'delivered', attempted: true },
        { id: d2!.id, state: 'dead', detail: 'gave up' },
      ]);
      // evt-1 delivered long ago goes; evt-2's dead letter is recent; evt-3 still pending; evt-4 is new;
      // an event no destination took goes after an hour.
      const cutoffs = {
        deliveredBefore: Date.now() - 7 * 86_400_000,
        deadBefore: Date.now() - 30 * 86_400_000,
        unroutedBefore: Date.now() - 3_600_000,
        visitorsBefore: Date.now() - 30 * 86_400_000,
      };
      expect(await store.purge(cutoffs)).toBe(2);
      expect((await store.recentEvents(10)).map((e) => e.id).sort()).toEqual([
        'evt-00000002',
        'evt-00000003',
        'evt-00000004',
        'evt-unrouted-2',
      ]);
      expect(await store.queueDepth()).toEqual(new Map([['a', 2]]));
    });
  });
}
