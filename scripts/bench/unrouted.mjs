// What keeping events no destination takes without personal data saves on ingest (issue: personal data
// that does not linger): page_views carrying user_data, written to a SQLite store as before (with
// user_data) and as now (without), in alternating rounds; prints the medians and the ratio.
// Run: npm run build && node scripts/bench/unrouted.mjs
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../dist/collector/store/sqlite.js';

const EVENTS = 20_000;
const BATCH = 10;
const ROUNDS = 5;

function pageView(i, withUserData) {
  const event = {
    id: `evt-unrouted-${i}`,
    name: 'page_view',
    time: Date.now(),
    anonymousId: `visitor-${i % 500}`,
    url: 'https://shop.example/products/anvil?utm_source=news',
    properties: { page_title: 'Anvil, 20 kg' },
  };
  if (withUserData) {
    event.properties.user_data = {
      email: `visitor${i}@example.com`,
      phone_number: '+15551234567',
      address: { first_name: 'Ann', last_name: 'Example', street: '1 Main Street', city: 'Springfield', region: 'IL', postal_code: '62701', country: 'US' },
    };
  }
  return event;
}

async function round(withUserData) {
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-unrouted-'));
  const store = new SqliteStore(join(dir, 't.db'), { thread: true });
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH) {
    const context = { receivedAt: Date.now(), ip: '203.0.113.7', userAgent: 'Mozilla/5.0' };
    const batch = [];
    for (let j = i; j < i + BATCH; j++) batch.push({ event: pageView(j, withUserData), context, destinations: [] });
    await store.ingest(batch);
  }
  const ms = performance.now() - started;
  await store.close();
  const bytes = statSync(join(dir, 't.db')).size;
  rmSync(dir, { recursive: true, force: true });
  return { usPerEvent: (ms * 1000) / EVENTS, bytesPerEvent: bytes / EVENTS };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const before = [];
const after = [];
for (let r = 0; r < ROUNDS; r++) {
  before.push(await round(true));
  after.push(await round(false));
}
const b = { us: median(before.map((x) => x.usPerEvent)), bytes: median(before.map((x) => x.bytesPerEvent)) };
const a = { us: median(after.map((x) => x.usPerEvent)), bytes: median(after.map((x) => x.bytesPerEvent)) };
console.log(`unrouted page_views, ${EVENTS} events in batches of ${BATCH}, median of ${ROUNDS} alternating rounds`);
console.log(`  with user_data (before):    ${b.us.toFixed(1)} µs/event ingest, ${b.bytes.toFixed(0)} B/event on disk`);
console.log(`  without user_data (now):    ${a.us.toFixed(1)} µs/event ingest, ${a.bytes.toFixed(0)} B/event on disk`);
console.log(`  ratio now/before: ingest ${(a.us / b.us).toFixed(2)}x, disk ${(a.bytes / b.bytes).toFixed(2)}x per event; kept 1 h instead of 7 days: ${(7 * 24).toFixed(0)}x fewer rows at a steady rate`);
