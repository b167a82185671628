import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, countBy, postCollect, signUp, sleep } from './load.js';
import { chaseRules, startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

const KEY = 'chase-kill-key';
const CONCURRENCY = 8;
const KILLS = 4;
const POSTERS = 3;
const BATCH = 20;

let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

describe('reliability: SIGKILL under load', () => {
  it('delivers every acknowledged event across repeated SIGKILLs; repeats stay within what was in flight', async () => {
    chase = await startChase(KEY);
    const rules = chaseRules(KEY);
    // The vendor takes a little while to answer, so requests are in flight when the collector dies;
    // `open` counts the requests it is still answering.
    let open = 0;
    chase.override = (req) => {
      open++;
      setTimeout(() => open--, 20);
      return { ...rules(req), delayMs: 20 };
    };
    collector = await Collector.start({
      config: {
        destinations: { chase: { apiKey: KEY, baseUrl: chase.url, events: { sign_up: 'sign-up' } } },
        delivery: { concurrency: CONCURRENCY },
      },
    });
    const c = collector;

    const posted = new Set<string>();
    const acked = new Set<string>();
    const answers = new Map<string, number>(); // status or connection error -> count
    const openAtKill: number[] = [];
    let seq = 0;
    let loading = true;
    const loadDeadline = Date.now() + 30_000; // bounds the posters even if the kill loop throws

    async function poster(): Promise<void> {
      while (loading && Date.now() < loadDeadline) {
        const ids = Array.from({ length: BATCH }, () => `kill-${String(++seq).padStart(7, '0')}`);
        ids.forEach((id) => posted.add(id));
        const r = await postCollect(c.url, JSON.stringify({ v: 1, events: ids.map((id) => signUp(id)) }));
        const key = 'status' in r ? String(r.status) : r.error;
        answers.set(key, (answers.get(key) ?? 0) + 1);
        if ('status' in r && r.status >= 200 && r.status < 300) ids.forEach((id) => acked.add(id));
        await sleep('status' in r ? 100 : 20);
      }
    }

    const posters = Array.from({ length: POSTERS }, () => poster());
    try {
      for (let k = 0; k < KILLS; k++) {
        await sleep(900);
        openAtKill.push(open);
        await c.kill();
        await c.restart();
      }
      await sleep(600);
    } finally {
      loading = false;
      await Promise.all(posters);
    }

    // The vendor stayed healthy: every acknowledged event reaches it, after the last restart at the latest.
    await waitFor(
      () => {
        const got = countBy(chase!.requests, chaseEventId);
        return [...acked].every((id) => got.has(id));
      },
      60_000,
      'every acknowledged event at Chase',
    );
    await waitFor(async () => (await c.metric('tagrelay_queue_depth')) === 0, 30_000, 'an empty queue');

    const got = countBy(chase.requests, chaseEventId);
    const repeats = [...got.values()].reduce((sum, n) => sum + n - 1, 0);
    const lost = [...acked].filter((id) => !got.has(id));
    const unknown = [...got.keys()].filter((id) => !posted.has(id));
    console.log(
      `SIGKILL x${KILLS}: posted ${posted.size}, acknowledged ${acked.size}, delivered ${got.size} distinct ` +
        `(${chase.requests.length} requests), repeats ${repeats} (bound ${KILLS * CONCURRENCY}; requests open at Chase at each kill: ${openAtKill.join(', ')}), ` +
        `answers ${JSON.stringify(Object.fromEntries(answers))}`,
    );

    expect(acked.size).toBeGreaterThan(500); // the load was real
    expect(lost).toEqual([]);
    expect(unknown).toEqual([]);
    // A repeat needs a request the vendor received before the kill whose result was not yet recorded:
    // at most `concurrency` requests are in flight per destination when the process dies.
    expect(repeats).toBeLessThanOrEqual(KILLS * CONCURRENCY);
    // Answers are 200 or a dropped connection (the process was killed): never a 5xx from a live collector.
    expect([...answers.keys()].filter((k) => /^\d+$/.test(k) && k !== '200')).toEqual([]);
    expect(chase.violations).toEqual([]);
  });
});
