// The store's disk fills up under load, past the free-space floor (here: off). A full disk is made
// without filling one: the collector's files may not grow past a limit (RLIMIT_FSIZE), so its writes fail
// as on a full disk, and raising the limit makes room again.
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, countBy, postCollect, signUp, sleep } from './load.js';
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
    const answers = new Map<string, number>();
    const stored = new Set<string>();
    let seq = 0;
    let running = true;
    let failure: unknown;
    // Posters that behave as the tag does: a batch not stored is sent again until it is. Each event
    // carries a transaction id, so each delivery first claims its conversion: a write too.
    const poster = async () => {
      while (running) {
        const ids = Array.from({ length: 20 }, () => `disk-${String(++seq).padStart(7, '0')}`);
        const padding = 'x'.repeat(1500);
        const body = JSON.stringify({ v: 1, events: ids.map((id) => signUp(id, { properties: { method: 'email', transaction_id: id, note: padding, user_data: { email: `${id}@example.com` } } })) });
        for (;;) {
          const r = await postCollect(c.url, body, undefined, 8000);
          const key = 'status' in r ? String(r.status) : r.error;
          answers.set(key, (answers.get(key) ?? 0) + 1);
          if (key === '200') break;
          if (key !== '503') throw new Error(`/collect answered ${key} while the disk was full`);
          await sleep(200);
        }
        ids.forEach((id) => stored.add(id));
        await sleep(20);
      }
    };
    const posters = Array.from({ length: 3 }, () =>
      poster().catch((e: unknown) => {
        failure ??= e;
        running = false;
      }),
    );
    await waitFor(() => (answers.get('503') ?? 0) >= 10 || failure, 60_000, 'the disk full: 503s');
    await sleep(2000); // full for a while: deliveries that cannot record their results, claims that cannot go on
    c.raiseFileSizeLimit();
    await sleep(2000);
    running = false;
    await Promise.all(posters);
    if (failure) throw failure;
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
