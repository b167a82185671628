import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, collectorPid, countBy } from './load.js';
import { startChase } from './vendors/chase.js';
import { startNextdoor } from './vendors/nextdoor.js';
import type { VendorServer } from './vendors/server.js';

const KEY = 'chase-ops-key';
const bin = resolve(import.meta.dirname, '../bin/tagrelay.js');
let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

const config = (vendor: VendorServer) => ({
  destinations: { chase: { apiKey: KEY, baseUrl: vendor.url, events: { sign_up: 'sign-up' } } },
});

async function post(c: Collector, ids: string[]) {
  const events = ids.map((id) => ({ id, name: 'sign_up', time: Date.now(), properties: { user_data: { email: `${id}@example.com` } } }));
  const res = await fetch(`${c.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) });
  expect(res.status).toBe(200);
}

/**
 * Runs the CLI beside the collector, without blocking this process: a blocked event loop would let
 * the test's idle keep-alive connections to the collector time out unnoticed, and the next request fail.
 */
function cli(c: Collector, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args, '--config', c.configPath], { cwd: c.dataDir, encoding: 'utf8', timeout: 15000 }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/**
 * One request on `agent` (keep-alive, one connection). With `write`, the request says `Expect: 100-continue` and
 * `write` sends the body (in parts if it likes) once the collector's `100 Continue` says its handler has the request.
 */
function exchange(
  c: Collector,
  agent: Agent,
  method: string,
  path: string,
  body?: string,
  write?: (req: ReturnType<typeof request>) => Promise<void>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string; reusedSocket: boolean }> {
  const { hostname, port } = new URL(c.url);
  return new Promise((done, fail) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) Object.assign(headers, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    if (write) headers.expect = '100-continue';
    const req = request({ hostname, port, method, path, agent, headers });
    req.once('error', fail);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.once('end', () => done({ status: res.statusCode!, headers: res.headers, body: text, reusedSocket: req.reusedSocket }));
    });
    if (write) req.once('continue', () => write(req).catch(fail));
    else req.end(body);
  });
}

describe('operations', () => {
  it('turns a 400 into one request and a rejection holding its message; replay takes dead letters, and rejections only when asked', async () => {
    chase = await startChase(KEY);
    // evt-dead-*: the vendor keeps failing (503) until the one attempt allowed is spent; evt-refused-*: it refuses (400).
    chase.override = (req) =>
      String(req.body).includes('evt-dead')
        ? { status: 503, body: { detail: 'unavailable' } }
        : { status: 400, body: { detail: [{ loc: ['body', 'email'], msg: 'domain does not accept mail', type: 'value_error' }] } };
    collector = await Collector.start({ config: { ...config(chase), delivery: { maxAttempts: 1 } } });
    await post(collector, ['evt-refused-00001', 'evt-refused-00002', 'evt-dead-00001']);
    await waitFor(
      async () => {
        const states = (await collector!.deliveries()).map((d) => d.state);
        return states.filter((s) => s === 'rejected').length === 2 && states.includes('dead');
      },
      10000,
      'rejections and a dead letter',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(chase.requests).toHaveLength(3);
    expect((await collector.deliveries()).find((d) => d.state === 'rejected')!.detail).toContain('domain does not accept mail');

    const status = await cli(collector, 'status', '--url', collector.url);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/chase\s+(active|backing-off)\s+0\s+-\s+0\s+0\s+2\s+1/);

    chase.override = undefined; // the vendor fixed its side
    const dead = await cli(collector, 'replay', '--destination', 'chase', '--since', '1h');
    expect(dead.status).toBe(0);
    expect(dead.stdout).toContain('re-queued 1 dead letter for chase');
    await waitFor(async () => (await collector!.deliveries()).filter((d) => d.state === 'delivered').length === 1, 10000, 'dead letter replayed');
    await new Promise((r) => setTimeout(r, 300));
    expect(chase.requests).toHaveLength(4); // the rejections stayed where they were

    const rejected = await cli(collector, 'replay', '--destination', 'chase', '--since', '1h', '--rejected');
    expect(rejected.status).toBe(0);
    expect(rejected.stderr).toContain('100% 2/2');
    expect(rejected.stdout).toContain('re-queued 2 dead or rejected deliveries for chase');
    await waitFor(async () => (await collector!.deliveries()).filter((d) => d.state === 'delivered').length === 3, 10000, 'replayed');
    expect(chase.requests).toHaveLength(6);
  });

  it('tagrelay forget erases a person: their events, deliveries and recorded requests, and says how many', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase) });
    const time = Date.now();
    const events = [
      { id: 'evt-forget-0001', name: 'sign_up', time, anonymousId: 'v-forget', properties: { user_data: { email: 'Forget.Me@example.com' } } },
      { id: 'evt-forget-0002', name: 'page_view', time, anonymousId: 'v-forget' },
      { id: 'evt-keep-00001', name: 'sign_up', time, anonymousId: 'v-keep', properties: { user_data: { email: 'keep@example.com' } } },
    ];
    expect((await fetch(`${collector.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) })).status).toBe(200);
    await waitFor(async () => (await collector!.deliveries()).filter((d) => d.state === 'delivered').length === 2, 10000, 'delivered');
    const r = await cli(collector, 'forget', '--email', 'forget.me@EXAMPLE.com');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('forgot 2 events, 1 delivery with their recorded requests, and 0 id conflicts\n');
    expect((await collector.events()).map((e) => e.id)).toEqual(['evt-keep-00001']);
    expect((await collector.deliveries()).map((d) => d.eventId)).toEqual(['evt-keep-00001']);
    expect((await cli(collector, 'forget')).stderr).toMatch(/forget needs --anonymous-id ID, --user-id ID or --email ADDRESS/);
  });

  it('replay refuses a destination that is not configured', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase) });
    const r = await cli(collector, 'replay', '--destination', 'nope');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--destination nope: not in the config');
  });

  it('status shows queue depth and the age of the oldest pending delivery', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 503, body: {} });
    collector = await Collector.start({ config: config(chase) });
    await post(collector, ['evt-stat-00001', 'evt-stat-00002', 'evt-stat-00003']);
    await waitFor(() => chase!.requests.length >= 1, 10000, 'an attempt');
    const r = await cli(collector, 'status', '--url', collector.url);
    expect(r.stdout).toMatch(/^destination\s+state\s+pending\s+oldest/);
    expect(r.stdout).toMatch(/chase\s+backing-off\s+3\s+\d+s/);
  });

  it('on SIGTERM finishes the request in flight, exits 0 and leaves the rest queued', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 202, body: {}, delayMs: 1500 });
    collector = await Collector.start({ config: { ...config(chase), delivery: { concurrency: 1 } } });
    await post(collector, ['evt-term-00001', 'evt-term-00002', 'evt-term-00003']);
    await waitFor(() => chase!.requests.length === 1, 10000, 'first request in flight');
    await collector.stop();
    expect(collector.output).toContain('"signal":"SIGTERM"');
    chase.override = undefined;
    await collector.restart();
    const states = await waitFor(async () => {
      const d = await collector!.deliveries();
      return d.every((x) => x.state === 'delivered') && d.length === 3 ? d : undefined;
    }, 10000, 'all delivered after restart');
    expect(states).toHaveLength(3);
    // The one in flight was finished, not sent again: three events, three requests.
    expect(chase.requests).toHaveLength(3);
  });

  it('on SIGTERM stops within 10 s while a vendor never answers; what was in flight stays queued and goes after a restart', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 202, body: {}, delayMs: 60_000 }); // never answers in time
    collector = await Collector.start({ config: { ...config(chase), delivery: { timeoutMs: 15_000 } } });
    await post(collector, ['evt-hang-00001', 'evt-hang-00002']);
    await waitFor(() => chase!.requests.length === 2, 10000, 'both requests in flight');
    const started = Date.now();
    await collector.stop();
    const took = Date.now() - started;
    expect(took).toBeLessThan(10_500);
    expect(collector.output).toMatch(/"msg":"stopped"/);
    chase.override = undefined;
    await collector.restart();
    await waitFor(async () => (await collector!.deliveries()).filter((d) => d.state === 'delivered').length === 2, 10000, 'delivered after restart');
    expect(chase.requests).toHaveLength(4); // each sent again once: the first answers never came
  }, 40_000);

  it('on SIGTERM a /collect already in flight gets its answer and its events are stored; a new /collect or /readyz meanwhile is answered 503', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase) });
    const c = collector;
    const batch = (ids: string[]) =>
      JSON.stringify({ v: 1, events: ids.map((id) => ({ id, name: 'sign_up', time: Date.now(), properties: { user_data: { email: `${id}@example.com` } } })) });
    const inFlight = ['evt-flight-00001', 'evt-flight-00002', 'evt-flight-00003'];
    const body = batch(inFlight);
    const half = Math.floor(body.length / 2);
    // One connection, as a client (or a load balancer) keeps one: a request begun on it before the stop, then new ones.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const pid = collectorPid(c.configPath);
      const answered = await exchange(c, agent, 'POST', '/collect', body, async (req) => {
        // Half the body, then SIGTERM; the rest once the collector says it is stopping.
        req.write(body.slice(0, half));
        process.kill(pid, 'SIGTERM');
        await waitFor(() => c.output.includes('"msg":"stopping"'), 10_000, 'the collector stopping');
        req.end(body.slice(half));
      });
      expect(answered.status).toBe(200);
      expect(JSON.parse(answered.body)).toMatchObject({ stored: 3, duplicates: 0 });
      // New requests while it stops, on that same connection (a new connection is not accepted any more):
      // not ready, and no events taken, with a Retry-After for the tag.
      const ready = await exchange(c, agent, 'GET', '/readyz');
      expect(ready.reusedSocket).toBe(true);
      expect(ready).toMatchObject({ status: 503 });
      expect(JSON.parse(ready.body)).toEqual({ status: 'not ready', reason: 'the collector is stopping' });
      const refused = await exchange(c, agent, 'POST', '/collect', batch(['evt-refused-00001']));
      expect(refused.reusedSocket).toBe(true);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      expect(JSON.parse(refused.body)).toEqual({ error: 'not taking events now: the collector is stopping' });
      expect(c.output).not.toMatch(/"msg":"stopped"/); // all of that while it was stopping
    } finally {
      agent.destroy();
    }
    await c.stop();
    expect(c.output).toMatch(/"msg":"stopped"/);
    // On the same store after a restart: the events of the request in flight are there (and go to Chase), the refused one is not.
    await c.restart();
    const stored = (await c.events()).map((e) => e.id).sort();
    expect(stored).toEqual(inFlight);
    await waitFor(() => inFlight.every((id) => countBy(chase!.requests, chaseEventId).has(id)), 10_000, 'the events at Chase');
  });

  it('dryRun records the exact request it would send, secrets redacted, and sends nothing', async () => {
    const nextdoor = await startNextdoor('nd-dry-token', 'ds-1');
    try {
      collector = await Collector.start({
        config: {
          destinations: {
            nextdoor: { token: 'nd-dry-token', dataSourceId: 'ds-1', baseUrl: nextdoor.url, testEvent: 'TEST123', dryRun: true },
          },
        },
      });
      const event = {
        id: 'evt-dry-000001',
        name: 'sign_up',
        time: Date.now(),
        url: 'https://shop.example/join',
        properties: { user_data: { email: ' Dry.Run@Example.com ', phone_number: '(415) 555-2671' } },
      };
      await fetch(`${collector.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events: [event] }) });
      const d = await waitFor(async () => (await collector!.deliveries()).find((x) => x.state === 'delivered'), 10000, 'dry run');
      expect(d.detail).toBe('dry run: not sent');
      const [line, headers, body] = d.request!.split('\n');
      expect(line).toBe(`POST ${nextdoor.url}/v2/api/conversions/track`);
      expect(JSON.parse(headers!)).toMatchObject({ authorization: '[redacted]', 'content-type': 'application/json' });
      expect(JSON.parse(body!)).toMatchObject({ event_name: 'sign_up', event_id: 'evt-dry-000001', test_event: 'TEST123' });
      expect(d.request).not.toContain('nd-dry-token');
      expect(nextdoor.requests).toHaveLength(0);
      // Scrubbed like real requests: the personal data is in none of its forms (as written, hashed).
      const customer = JSON.parse(body!).customer;
      expect(customer).toMatchObject({ email: '[personal data]', phone_number: '[personal data]' });
      const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');
      for (const form of ['dry.run@example.com', sha256('dry.run@example.com'), sha256('+14155552671'), '555-2671']) {
        expect(d.request).not.toContain(form);
      }
    } finally {
      await nextdoor.close();
    }
  });

  it('keeps personal data only until every delivery of the event is done', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 503, body: {} });
    collector = await Collector.start({ config: config(chase) });
    await post(collector, ['evt-pii-000001']);
    await waitFor(() => chase!.requests.length >= 1, 10000, 'an attempt');
    expect((await collector.events())[0]!.properties).toHaveProperty('user_data');
    chase.override = undefined;
    await waitFor(async () => (await collector!.deliveries())[0]!.state === 'delivered', 15000, 'delivery');
    const [event] = await collector.events();
    expect(event!.properties).toEqual({});
    expect(JSON.stringify(await collector.deliveries())).not.toContain('evt-pii-000001@example.com');
  });

  it('keeps only origin, path, utm_* and click ids of page URLs, stored and forwarded; an event no destination takes keeps no personal data', async () => {
    const nextdoor = await startNextdoor('nd-url-token', 'ds-url');
    try {
      collector = await Collector.start({
        config: {
          keepQueryParams: ['variant'],
          destinations: { nextdoor: { token: 'nd-url-token', dataSourceId: 'ds-url', baseUrl: nextdoor.url } },
        },
      });
      const url =
        'https://shop.example/account/reset?token=reset-s3cret&email=ann%40example.com&utm_source=mail&ndclid=nd-1&variant=b#access_token=oauth-s3cret';
      const events = [
        { id: 'evt-url-000001', name: 'sign_up', time: Date.now(), url, referrer: 'https://mail.example/inbox?session=abc#msg' },
        { id: 'evt-url-000002', name: 'page_view', time: Date.now(), url, properties: { user_data: { email: 'ann@example.com' } } },
      ];
      expect((await fetch(`${collector.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) })).status).toBe(200);
      await waitFor(() => nextdoor.requests.length === 1, 10000, 'the sign_up at Nextdoor');
      const clean = 'https://shop.example/account/reset?utm_source=mail&ndclid=nd-1&variant=b';
      expect(JSON.parse(nextdoor.requests[0]!.body).action_source_url).toBe(clean);
      const stored = await collector.events();
      expect(stored.map((e) => e.url)).toEqual([clean, clean]);
      expect(stored.find((e) => e.id === 'evt-url-000001')!.referrer).toBe('https://mail.example/inbox');
      const pageView = stored.find((e) => e.id === 'evt-url-000002')!; // no destination takes page_view
      expect(pageView.properties).toEqual({});
      expect(pageView.context.emailKey).toBeUndefined();
      const everything = JSON.stringify(stored) + JSON.stringify(await collector.deliveries()) + nextdoor.requests[0]!.body;
      for (const secret of ['reset-s3cret', 'oauth-s3cret', 'ann%40example.com', 'ann@example.com', 'session=abc']) {
        expect(everything).not.toContain(secret);
      }
    } finally {
      await nextdoor.close();
    }
  });
});
