// What an operator sees: log lines, Prometheus metrics, health.
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

let collector: Collector | undefined;
let chase: VendorServer | undefined;
afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

const KEY = 'chase-observe-key';
const config = (vendor: VendorServer, extra: Record<string, unknown> = {}) => ({
  destinations: { chase: { apiKey: KEY, baseUrl: vendor.url, events: { sign_up: 'sign-up' } } },
  ...extra,
});
const post = (c: Collector, events: unknown[]) => fetch(`${c.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) });
const signUp = (id: string) => ({ id, name: 'sign_up', time: Date.now(), properties: { user_data: { email: `${id}@example.com` } } });
const logLines = (c: Collector) =>
  c.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('metrics', () => {
  it('every series exists at zero from start-up, named as Prometheus asks', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase) });
    const text = await collector.metrics();
    for (const series of [
      'tagrelay_collect_requests_total{status="5xx"} 0',
      'tagrelay_collect_events_total{result="conflict"} 0',
      'tagrelay_collect_limited_total{limit="ip"} 0',
      'tagrelay_collect_duration_seconds_count{status="2xx"} 0',
      'tagrelay_deliveries_total{destination="chase",outcome="dead",dry_run="false"} 0',
      'tagrelay_deliveries_total{destination="chase",outcome="rejected",dry_run="false"} 0',
      'tagrelay_delivery_failures_total{destination="chase",kind="RetryableError"} 0',
      'tagrelay_vendor_request_duration_seconds_count{destination="chase",status_class="5xx"} 0',
      'tagrelay_vendor_request_duration_seconds_count{destination="chase",status_class="network"} 0',
      'tagrelay_queue_depth{destination="chase"} 0',
      'tagrelay_oldest_pending_age_seconds{destination="chase"} 0',
      'tagrelay_lane_state{destination="chase",state="active"} 1',
      'tagrelay_lane_state{destination="chase",state="paused"} 0',
    ]) {
      expect(text).toContain(series);
    }
    expect(text).toMatch(/^tagrelay_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+[^"]*"\} 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('counts what happens: requests by status class, deliveries by outcome, the vendor answer times, the queue and its oldest age', async () => {
    chase = await startChase(KEY);
    chase.override = (req) => (req.body.includes('evt-obs-refused') ? { status: 400, body: { detail: 'no such contact list' } } : { status: 503, body: {} });
    collector = await Collector.start({ config: config(chase) });
    expect((await post(collector, [signUp('evt-obs-refused1'), signUp('evt-obs-waiting1')])).status).toBe(200);
    await waitFor(async () => (await collector!.metric('tagrelay_deliveries_total', { outcome: 'rejected' })) === 1, 10000, 'rejection counted');
    await waitFor(async () => (await collector!.metric('tagrelay_vendor_request_duration_seconds_count', { status_class: '5xx' })) >= 1, 10000, '5xx timed');
    // At least ours (a browser of a test running beside this one may still post to a port it reused).
    expect(await collector.metric('tagrelay_collect_requests_total', { status: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(await collector.metric('tagrelay_collect_events_total', { result: 'stored' })).toBeGreaterThanOrEqual(2);
    expect(await collector.metric('tagrelay_queue_depth', { destination: 'chase' })).toBe(1);
    expect(await collector.metric('tagrelay_lane_state', { state: 'backing-off' })).toBe(1);
    await new Promise((r) => setTimeout(r, 16_000)); // the oldest age is read at most every 15 s
    expect(await collector.metric('tagrelay_oldest_pending_age_seconds', { destination: 'chase' })).toBeGreaterThan(1);
  }, 40_000);
});

describe('logs', () => {
  it('JSON lines at info: a destination backing off and recovering, a rejection and a dead letter with the vendor message, ingest refusals summarised', async () => {
    chase = await startChase(KEY);
    let down = true;
    chase.override = (req) =>
      req.body.includes('evt-log-refused')
        ? { status: 422, body: { detail: [{ msg: 'value is not a valid email address' }] } }
        : down
          ? { status: 503, body: {} }
          : undefined;
    collector = await Collector.start({ config: config(chase, { delivery: { maxAttempts: 2 } }) });
    await post(collector, [signUp('evt-log-refused1'), signUp('evt-log-dead001')]);
    await waitFor(() => logLines(collector!).some((l) => l.msg === 'dead letter'), 15000, 'a dead letter logged');
    down = false;
    await post(collector, [signUp('evt-log-ok00001')]);
    await waitFor(() => logLines(collector!).some((l) => l.msg === 'destination recovered'), 15000, 'recovery logged');
    for (let i = 0; i < 20; i++) await post(collector, [{ id: `bad-${i}`, name: 'x', time: 'now' }]);

    const lines = logLines(collector);
    expect(lines.every((l) => typeof l.time === 'string' && typeof l.level === 'string')).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'destination backing off', destination: 'chase' }));
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'delivery rejected', destination: 'chase', event: 'evt-log-refused1', status: 422, message: expect.stringContaining('not a valid email') }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'dead letter', destination: 'chase', event: 'evt-log-dead001', status: 503 }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'destination recovered', destination: 'chase' }));
    // 20 bad requests in a few seconds: one line for them.
    expect(lines.filter((l) => l.msg === 'ingest refused' && l.kind === '422')).toHaveLength(1);
    expect(lines.some((l) => l.level === 'debug')).toBe(false);
    expect(collector.output).not.toContain(KEY);
  }, 40_000);

  it('LOG_LEVEL=debug adds every delivery attempt', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase), env: { LOG_LEVEL: 'debug' } });
    await post(collector, [signUp('evt-log-debug01')]);
    await waitFor(() => logLines(collector!).some((l) => l.msg === 'delivery attempt'), 10000, 'an attempt logged');
    expect(logLines(collector)).toContainEqual(
      expect.objectContaining({ level: 'debug', msg: 'delivery attempt', destination: 'chase', event: 'evt-log-debug01', state: 'delivered', status: 202 }),
    );
  });
});
