import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, countBy, postCollect, signUp, sleep } from './load.js';
import { startChase } from './vendors/chase.js';
import type { ReceivedRequest, VendorServer } from './vendors/server.js';

const KEY = 'chase-pause-key';
// maxAttempts 2: were a refused key counted as an attempt, these events would be dead letters long before the key works.
const DELIVERY = { pollMs: 50, concurrency: 8, baseBackoffMs: 200, maxBackoffMs: 1000, maxAttempts: 2 };
const REFUSED_MS = 3000;
const EVENTS = 20;

let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

describe('reliability: a refused key', () => {
  it('pauses the destination while the vendor answers 401, loses nothing, and resumes by itself once the key works again', async () => {
    chase = await startChase(KEY);
    const refused: ReceivedRequest[] = [];
    let revoked = true; // the key is revoked at the vendor, then reinstated: no restart of the collector
    chase.override = (req) => {
      if (!revoked) return undefined;
      refused.push(req);
      return { status: 401, body: { detail: 'Invalid API key' } };
    };
    collector = await Collector.start({
      config: {
        destinations: { chase: { apiKey: KEY, baseUrl: chase.url, events: { sign_up: 'sign-up' } } },
        delivery: DELIVERY,
      },
    });
    const c = collector;
    const ids = Array.from({ length: EVENTS }, (_, i) => `pause-${String(i).padStart(4, '0')}`);
    const started = Date.now();
    expect(await postCollect(c.url, JSON.stringify({ v: 1, events: ids.map((id) => signUp(id)) }))).toMatchObject({
      status: 200,
    });

    await waitFor(() => refused.length >= 1, 10_000, 'a refused request');
    const health = await (await fetch(`${c.url}/healthz`)).json();
    expect(health.destinations).toEqual([expect.objectContaining({ destination: 'chase', state: 'paused' })]);
    await sleep(Math.max(0, started + REFUSED_MS - 500 - Date.now()));
    const during = await c.deliveries();
    expect(during).toHaveLength(EVENTS);
    expect(during.filter((d) => d.state !== 'pending')).toEqual([]);
    await sleep(Math.max(0, started + REFUSED_MS - Date.now()));
    revoked = false;
    const refusedFor = Date.now() - refused[0]!.receivedAt;

    await waitFor(
      () =>
        ids.every(
          (id) => countBy(chase!.requests, chaseEventId).has(id) && chase!.requests.length - refused.length >= EVENTS,
        ),
      15_000,
      'every event accepted',
    );
    await waitFor(
      async () => (await c.deliveries()).every((d) => d.state === 'delivered'),
      10_000,
      'every delivery marked delivered',
    );
    const accepted = countBy(
      chase.requests.filter((r) => !refused.includes(r)),
      chaseEventId,
    );
    // Paused: the first requests out (up to `concurrency`), then one probe per maxBackoffMs.
    const bound = DELIVERY.concurrency + Math.ceil(refusedFor / DELIVERY.maxBackoffMs) + 1;
    console.log(
      `401 for ${refusedFor} ms: ${refused.length} refused requests (bound ${bound}), then ${chase.requests.length - refused.length} accepted for ${EVENTS} events`,
    );

    expect(refused.length).toBeLessThanOrEqual(bound);
    expect(ids.map((id) => accepted.get(id))).toEqual(ids.map(() => 1));
    expect((await (await fetch(`${c.url}/healthz`)).json()).destinations).toEqual([
      expect.objectContaining({ destination: 'chase', state: 'active' }),
    ]);
    expect(chase.violations).toEqual([]);
  });
});
