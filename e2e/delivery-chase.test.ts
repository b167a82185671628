import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, Collector, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

const KEY = 'chase-secret-key-123';
let collector: Collector | undefined;
let chase: VendorServer | undefined;

afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

function config(vendor: VendorServer, extra: Record<string, unknown> = {}) {
  return {
    destinations: { chase: { apiKey: KEY, baseUrl: vendor.url, events: { sign_up: 'sign-up', purchase: 'purchase' }, ...extra } },
  };
}

const batch = (id: string) =>
  JSON.stringify({
    v: 1,
    events: [{ id, name: 'sign_up', time: 1795344440021, properties: { method: 'email', user_data: { email: ' Ann@Example.com ' } } }],
  });

const post = (c: Collector, body: string) =>
  fetch(`${c.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });

describe('delivery to Chase', () => {
  it('delivers an event acknowledged just before SIGKILL once the collector restarts', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 503, body: { detail: 'down' } }); // nothing can be delivered before the kill
    collector = await Collector.start({ config: config(chase) });
    const res = await post(collector, batch('evt-kill-0001'));
    expect(res.status).toBe(200);
    await collector.kill();
    const refusedBefore = chase.requests.length; // attempts answered 503 before the kill, if any
    chase.override = undefined;
    await collector.restart();
    const delivered = await waitFor(() => chase!.requests.slice(refusedBefore).find((r) => r.headers['x-api-key'] === KEY), 10000, 'delivery after restart');
    expect(JSON.parse(delivered.body)).toEqual({ email: 'Ann@Example.com', conversion_type: 'sign-up', conversion_data: { method: 'email', event_id: 'evt-kill-0001' } });
    await waitFor(async () => (await collector!.deliveries()).find((d) => d.state === 'delivered'), 5000, 'delivered state');
  });

  it('forwards an event id posted twice only once', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase) });
    expect((await (await post(collector, batch('evt-dup-00001'))).json())).toEqual({ stored: 1, duplicates: 0 });
    expect((await (await post(collector, batch('evt-dup-00001'))).json())).toEqual({ stored: 0, duplicates: 1 });
    await waitFor(() => chase!.requests.length >= 1, 10000, 'first delivery');
    await new Promise((r) => setTimeout(r, 1000));
    expect(chase.requests).toHaveLength(1);
    expect(chase.violations).toEqual([]);
  });

  it('keeps a refused event with the vendor status and message, and does not retry it', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 422, body: { detail: [{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }] } });
    collector = await Collector.start({ config: config(chase) });
    await post(collector, batch('evt-422-00001'));
    const d = await waitFor(async () => (await collector!.deliveries()).find((x) => x.state === 'rejected'), 10000, 'rejection');
    expect(d.status).toBe(422);
    expect(d.detail).toContain('value is not a valid email address');
    await new Promise((r) => setTimeout(r, 800));
    expect(chase.requests).toHaveLength(1);
  });

  it('retries 5xx and 429 until the vendor accepts', async () => {
    chase = await startChase(KEY);
    let calls = 0;
    chase.override = () => (++calls <= 2 ? { status: calls === 1 ? 503 : 429, body: {}, headers: { 'retry-after': '0' } } : undefined);
    collector = await Collector.start({ config: config(chase) });
    await post(collector, batch('evt-retry-0001'));
    const d = await waitFor(async () => (await collector!.deliveries()).find((x) => x.state === 'delivered'), 15000, 'delivery');
    expect(d.status).toBe(202);
    expect(chase.requests).toHaveLength(3);
  });

  it('treats 200 "contact not in the organisation" as done', async () => {
    chase = await startChase(KEY, ['someone-else@example.com']);
    collector = await Collector.start({ config: config(chase) });
    await post(collector, batch('evt-200-00001'));
    const d = await waitFor(async () => (await collector!.deliveries()).find((x) => x.state === 'delivered'), 10000, 'delivery');
    expect(d.status).toBe(200);
  });

  it('pauses on a refused key, loses nothing, and delivers once the key is fixed', async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({ config: config(chase, { apiKey: 'wrong-key-000' }) });
    await post(collector, batch('evt-401-00001'));
    await waitFor(() => chase!.requests.length >= 1, 10000, 'first attempt');
    const health = await (await fetch(`${collector.url}/healthz`)).json();
    expect(health.destinations[0]).toMatchObject({ destination: 'chase', state: 'paused' });
    const [d] = await collector.deliveries();
    expect(d).toMatchObject({ state: 'pending', status: 401 });
    // The operator fixes the key and restarts.
    await collector.stop();
    const next = await Collector.start({ dataDir: collector.dataDir, config: config(chase) });
    collector = next;
    await waitFor(async () => (await next.deliveries()).find((x) => x.state === 'delivered'), 10000, 'delivery with the fixed key');
  });

  it('never writes a secret to a log line, a response or the debug page', async () => {
    chase = await startChase(KEY);
    chase.override = () => ({ status: 401, body: { detail: 'Invalid API key' } });
    collector = await Collector.start({ config: config(chase, { apiKey: KEY }) });
    await post(collector, batch('evt-secret-001'));
    await waitFor(() => chase!.requests.length >= 1, 10000, 'an attempt');
    // The vendor has answered; the collector records the attempt (its request, redacted) just after.
    await waitFor(async () => (await collector!.deliveries()).some((d) => d.request), 10000, 'the attempt recorded');
    const debug = await (await fetch(`${collector.url}/debug`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const api = JSON.stringify(await collector.deliveries());
    const health = await (await fetch(`${collector.url}/healthz`)).text();
    for (const text of [debug, api, health, collector.output, await collector.metrics()]) expect(text).not.toContain(KEY);
    expect(debug).toContain('[redacted]');
    expect(readFileSync(collector.configPath, 'utf8')).toContain(KEY); // the secret was there to leak
  });
});
