// The public surface under attack: limits, slow and large requests, what /healthz and /debug give away.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, Collector, tempDir, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

let collector: Collector | undefined;
let chase: VendorServer | undefined;
afterEach(async () => {
  await collector?.stop();
  await chase?.close();
  collector = chase = undefined;
});

const event = (id: string) => ({ id, name: 'sign_up', time: Date.now(), properties: { user_data: { email: 'ann@example.com' } } });
const postFrom = (c: Collector, ip: string, id: string) =>
  fetch(`${c.url}/collect`, {
    method: 'POST',
    headers: { 'x-forwarded-for': ip },
    body: JSON.stringify({ v: 1, events: [event(id)] }),
  });

/** A raw TCP connection to the collector, for requests fetch cannot make (slow, oversized, never finished). */
function rawConnection(c: Collector): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(c.url);
  return new Promise((resolveConn, reject) => {
    const socket = connect(Number(port), hostname, () => {
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      const opened = Date.now();
      const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
      resolveConn({ socket, received: () => data, closed });
    });
    socket.once('error', reject);
  });
}

describe('limits on /collect', () => {
  it('a token bucket per client address: a script gets 429 with Retry-After, another visitor is not slowed, both counted', async () => {
    collector = await Collector.start({ config: { trustProxy: 1, limits: { perIp: { ratePerSecond: 0.1, burst: 10 } } } });
    const c = collector;
    const answers: number[] = [];
    for (let i = 0; i < 15; i++) answers.push((await postFrom(c, '198.51.100.66', `evt-abuse-${1000 + i}`)).status);
    expect(answers.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(answers.slice(10)).toEqual(Array(5).fill(429));
    const refused = await postFrom(c, '198.51.100.66', 'evt-abuse-2000');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await refused.json()).error).toMatch(/too many requests from this address/);
    // Another visitor, at the same moment.
    expect((await postFrom(c, '203.0.113.5', 'evt-visitor-0001')).status).toBe(200);
    expect(await c.metric('tagrelay_collect_limited_total', { limit: 'ip' })).toBeGreaterThanOrEqual(6);
    const stored = (await c.events()).map((e) => e.id);
    expect(stored).toContain('evt-visitor-0001');
    expect(stored).not.toContain('evt-abuse-2000');
  });

  it('a global limit guards the store', async () => {
    collector = await Collector.start({ config: { trustProxy: 1, limits: { global: { ratePerSecond: 0.01, burst: 3 } } } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await postFrom(collector, `203.0.113.${i + 1}`, `evt-global-${1000 + i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await collector.metric('tagrelay_collect_limited_total', { limit: 'global' })).toBe(2);
  });

  it('answers 413 and closes the connection instead of reading the rest of a huge body', async () => {
    collector = await Collector.start();
    const { socket, received, closed } = await rawConnection(collector);
    socket.write(`POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`);
    socket.write('x'.repeat(70 * 1024)); // past the 64 KB limit, then nothing more is needed
    const took = await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(received().toLowerCase()).toContain('connection: close');
    expect(took).toBeLessThan(5000);
  });

  it('drops a client that sends its headers or its body too slowly (slowloris), and caps open connections', async () => {
    collector = await Collector.start({ config: { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 3 } } });
    const slow = await rawConnection(collector);
    slow.socket.write('POST /collect HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => slow.socket.write('X-Slow: 1\r\n'), 200);
    const took = await slow.closed;
    clearInterval(trickle);
    expect(took).toBeLessThan(4000);

    // headers in time, then the body a byte at a time: the whole request must be in within requestTimeoutMs
    const slowBody = await rawConnection(collector);
    slowBody.socket.on('error', () => {}); // a write racing the server's close
    slowBody.socket.write('POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => slowBody.socket.write(' '), 200);
    const bodyTook = await slowBody.closed;
    clearInterval(drip);
    expect(bodyTook).toBeGreaterThanOrEqual(1900);
    expect(bodyTook).toBeLessThan(4500); // 2 s, checked every second
    expect(slowBody.received()).not.toMatch(/^HTTP\/1\.1 200/);

    const held = await Promise.all([1, 2, 3].map(() => rawConnection(collector!)));
    const fourth = await rawConnection(collector);
    fourth.socket.write(`POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`);
    expect(await fourth.closed).toBeLessThan(2000);
    expect(fourth.received()).toBe('');
    for (const h of held) h.socket.destroy();
  });
});

describe('what the public and admin surfaces give away', () => {
  it('/healthz says which destination is degraded, never its URL or its answer; /livez and /readyz answer', async () => {
    chase = await startChase('chase-sec-key');
    chase.override = () => ({ status: 503, body: { detail: 'VENDOR-INTERNAL-DETAIL at 10.1.2.3' } });
    collector = await Collector.start({
      config: { destinations: { chase: { apiKey: 'chase-sec-key', baseUrl: chase.url, events: { sign_up: 'sign-up' } } } },
    });
    await postFrom(collector, '203.0.113.1', 'evt-health-0001');
    await waitFor(() => chase!.requests.length >= 1, 10000, 'a failed attempt');
    const health = await waitFor(async () => {
      const body = await (await fetch(`${collector!.url}/healthz`)).text();
      return body.includes('degraded') ? body : undefined;
    }, 10000, 'degraded');
    expect(JSON.parse(health)).toEqual({
      status: 'degraded',
      degraded: ['chase'],
      destinations: [{ destination: 'chase', state: 'backing-off' }],
    });
    expect(health).not.toContain('VENDOR-INTERNAL-DETAIL');
    expect(health).not.toContain(chase.url);
    expect((await fetch(`${collector.url}/livez`)).status).toBe(200);
    expect(await (await fetch(`${collector.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('/debug: strict headers, no CORS credentials on /collect, and wrong admin tokens slowed down', async () => {
    collector = await Collector.start({ config: { allowedOrigins: ['https://shop.example'] } });
    const ok = await fetch(`${collector.url}/debug`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(ok.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('referrer-policy')).toBe('no-referrer');
    expect(ok.headers.get('cache-control')).toBe('no-store');

    const cors = await fetch(`${collector.url}/collect`, {
      method: 'POST',
      headers: { origin: 'https://shop.example' },
      body: JSON.stringify({ v: 1, events: [event('evt-cors-00001')] }),
    });
    expect(cors.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(cors.headers.get('access-control-allow-credentials')).toBeNull();

    const guesses = [];
    for (let i = 0; i < 6; i++) {
      guesses.push((await fetch(`${collector.url}/debug`, { headers: { authorization: `Bearer guess-${i}-xxxxxxxxxx` } })).status);
    }
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);
    // Locked out: even the right token waits.
    const right = await fetch(`${collector.url}/debug`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('secrets that cannot be kept safe stop the start', () => {
  const bin = resolve(import.meta.dirname, '../bin/tagrelay.js');
  const serve = (config: unknown, env: Record<string, string> = {}) => {
    const dir = tempDir('tagrelay-sec-');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ port: 0, store: `sqlite:${join(dir, 't.db')}`, ...(config as object) }));
    return spawnSync(process.execPath, [bin, 'serve', '--config', join(dir, 'c.json')], {
      env: { ...process.env, TAGRELAY_ADMIN_TOKEN: '', ...env },
      encoding: 'utf8',
      timeout: 10000,
    });
  };
  it('an admin token shorter than 16 characters', () => {
    const r = serve({}, { TAGRELAY_ADMIN_TOKEN: 'short-token' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('tagrelay: config error: TAGRELAY_ADMIN_TOKEN: must be at least 16 characters (it guards /debug)\n');
  });
  it('a vendor secret shorter than 8 characters', () => {
    const r = serve({ destinations: { chase: { apiKey: 'abc', events: {} } } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tagrelay: config error: destinations\.chase\.apiKey: must be at least 8 characters/);
  });
});
