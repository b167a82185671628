// The store's disk fills up under load, past the free-space floor (here: off). A full disk is made
// without filling one: the collector's files may not grow past a limit (RLIMIT_FSIZE), so its writes fail
// as on a full disk, and raising the limit makes room again.
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, countBy, signUp, sleep, tagLikeLoad } from './load.js';
import { chaseRules, startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

const KEY = 'chase-disk-key';
const LEASE_MS = 10_000;

let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

describe('reliability: the disk fills up', () => {
  it('answers 503 while the store cannot write, never hangs or crashes; once there is room, everything is stored and delivered once', { timeout: 120_000 }, async () => {
    chase = await startChase(KEY);
    const rules = chaseRules(KEY);
    chase.override = (req) => ({ ...rules(req), delayMs: 20 });
    collector = await Collector.start({
      config: {
        destinations: { chase: { apiKey: KEY, baseUrl: chase.url, events: { sign_up: 'sign-up' } } },
        delivery: { concurrency: 8, timeoutMs: 5000, leaseMs: LEASE_MS },
        limits: { minFreeBytes: 1 },
      },
      fileSizeLimitKb: 4096,
    });
    const c = collector;
    // Each event carries a transaction id, so each delivery first claims its conversion: a write too.
    const padding = 'x'.repeat(1500);
    const traffic = tagLikeLoad(() => [c], {
      prefix: 'disk',
      answerMs: 8000,
      event: (id) => signUp(id, { properties: { method: 'email', transaction_id: id, note: padding, user_data: { email: `${id}@example.com` } } }),
    });
    const { answers, stored } = traffic;
    await waitFor(() => (answers.get('503') ?? 0) >= 10 || traffic.failed, 60_000, 'the disk full: 503s');
    await sleep(2000); // full for a while: deliveries that cannot record their results, claims that cannot go on
    c.raiseFileSizeLimit();
    await sleep(2000);
    await traffic.stop();
    // Deliveries whose conversion claim could not be written wait for their lease to run out.
    await waitFor(() => {
      const got = countBy(chase!.requests, chaseEventId);
      return [...stored].every((id) => got.has(id));
    }, LEASE_MS + 30_000, 'every stored event at Chase');
    await waitFor(async () => (await c.metric('tagrelay_queue_depth')) === 0, 20_000, 'an empty queue');
    const got = countBy(chase!.requests, chaseEventId);
    const repeats = [...got.values()].reduce((n, k) => n + k - 1, 0);
    console.log(`full disk: stored ${stored.size}, delivered ${got.size}, repeats ${repeats}; answers ${JSON.stringify(Object.fromEntries(answers))}`);
    expect([...answers.keys()].sort()).toEqual(['200', '503']);
    expect(c.running).toBe(true);
    expect(c.output).toMatch(/"msg":"could not store events"/);
    expect([...stored].filter((id) => !got.has(id))).toEqual([]);
    expect([...got.keys()].filter((id) => !stored.has(id))).toEqual([]);
    expect(repeats).toBe(0);
  });
});
