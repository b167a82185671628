import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Collector } from './collector.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

const walBytes = (c: Collector) => {
  const wal = join(c.dataDir, 'tagrelay.db-wal');
  return existsSync(wal) ? statSync(wal).size : 0;
};

describe('the SQLite store under sustained writes', () => {
  it('keeps the WAL bounded while checkpoints run beside the writer, and closes it cleanly on SIGTERM', async () => {
    chase = await startChase('store-key');
    collector = await Collector.start({
      config: { destinations: { chase: { apiKey: 'store-key', baseUrl: chase.url, events: { purchase: 'purchase' } } } },
    });
    const c = collector;
    const padding = 'x'.repeat(1000);
    const batches = 800; // 800 x 50 events of ~1.2 KB: ~48 MB of events, many times the 8 MB WAL
    let largestWal = 0;
    const sampler = setInterval(() => (largestWal = Math.max(largestWal, walBytes(c))), 20);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < batches) {
          const b = next++;
          const events = Array.from({ length: 50 }, (_, i) => ({
            id: `evt-wal-${b}-${i}`,
            name: 'purchase',
            time: Date.now(),
            properties: { value: 1, currency: 'USD', note: padding },
          }));
          const res = await fetch(`${c.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) });
          expect(res.status).toBe(200);
        }
      }),
    );
    clearInterval(sampler);
    largestWal = Math.max(largestWal, walBytes(c));
    expect(largestWal).toBeGreaterThan(0);
    // SQLite's checkpoint threshold is 1,000 pages (8 MB of the store's 8 KB pages); a WAL no checkpoint could
    // finish would hold all 48 MB.
    expect(largestWal).toBeLessThan(20 * 1024 * 1024);

    await c.stop();
    expect(walBytes(c)).toBe(0); // the last connection checkpointed everything and removed the WAL
    const db = new Database(join(c.dataDir, 'tagrelay.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) FROM events').pluck().get()).toBe(batches * 50);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 60_000);
});
