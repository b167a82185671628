import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, Collector } from './collector.js';

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: 'sign_up',
  time: Date.now(),
  properties: { user_data: { email: 'ann@example.com' } },
  ...extra,
});

describe('POST /collect answers bad input with the right 4xx', () => {
  let c: Collector;
  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${c.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...headers },
      body: body as BodyInit,
    });

  beforeAll(async () => {
    c = await Collector.start({ config: { allowedOrigins: ['https://shop.example'] } });
  });
  afterAll(() => c.stop());

  it.each([
    ['malformed JSON', '{"v":1,"events":[', 400, /not valid JSON/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, /UTF-8/],
    ['an empty body', '', 400, /empty body/],
    ['a wrong version', JSON.stringify({ v: 2, events: [event('evt-00000001')] }), 422, /^v:/],
    [
      'a name that is a number',
      JSON.stringify({ v: 1, events: [{ ...event('evt-00000002'), name: 42 }] }),
      422,
      /events\.0\.name/,
    ],
    [
      'a time that is a string',
      JSON.stringify({ v: 1, events: [{ ...event('evt-00000003'), time: 'now' }] }),
      422,
      /events\.0\.time/,
    ],
    [
      'a click id that is a number',
      JSON.stringify({ v: 1, events: [{ ...event('evt-0000000b'), clickIds: { clickid: 5 } }] }),
      422,
      /^events\.0\.clickIds: Invalid input: expected an object of strings/,
    ],
    [
      'an unknown field',
      JSON.stringify({ v: 1, events: [{ ...event('evt-00000004'), password: 'x' }] }),
      422,
      /events\.0/,
    ],
    ['no events', JSON.stringify({ v: 1, events: [] }), 422, /events/],
    [
      'a __proto__ key',
      '{"v":1,"events":[{"id":"evt-00000005","name":"x","time":1795344440021,"properties":{"__proto__":{"admin":true}}}]}',
      400,
      /__proto__/,
    ],
    [
      'deep nesting',
      `{"v":1,"events":[{"id":"evt-00000006","name":"x","time":1795344440021,"properties":{"a":${'['.repeat(50)}${']'.repeat(50)}}}]}`,
      400,
      /nested/,
    ],
    [
      'an oversized body',
      JSON.stringify({ v: 1, events: [event('evt-00000007', { url: 'x'.repeat(70 * 1024) })] }),
      413,
      /larger than 65536/,
    ],
  ])('%s', async (_what, body, status, message) => {
    const res = await post(body as string);
    expect(res.status).toBe(status);
    expect((await res.json()).error).toMatch(message as RegExp);
  });

  it('refuses a compressed body (415) and a GET (405)', async () => {
    const gz = await post(JSON.stringify({ v: 1, events: [event('evt-0000000a')] }), { 'content-encoding': 'gzip' });
    expect(gz.status).toBe(415);
    expect((await gz.json()).error).toContain('content-encoding gzip');
    const get = await fetch(`${c.url}/collect`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('refuses a browser request from an origin not in allowedOrigins', async () => {
    const res = await post(JSON.stringify({ v: 1, events: [event('evt-00000008')] }), {
      origin: 'https://evil.example',
    });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toContain('https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers CORS for an allowed origin, preflight included', async () => {
    const pre = await fetch(`${c.url}/collect`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const res = await post(JSON.stringify({ v: 1, events: [event('evt-00000009')] }), {
      origin: 'https://shop.example',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('keeps the valid events of a batch and says which ones it refused', async () => {
    const body = {
      v: 1,
      events: [event('evt-00000010'), { ...event('evt-00000011'), name: 7 }, event('evt-00000012')],
    };
    const res = await post(JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      stored: 2,
      duplicates: 0,
      rejected: [{ index: 1, error: 'events.1.name: Invalid input: expected string, received number' }],
    });
    expect(await c.metric('tagrelay_collect_events_total', { result: 'rejected' })).toBe(1);
  });

  it('calls an id that comes back with other content a conflict: counted, answered, shown in /debug, not stored', async () => {
    const order = { id: 'evt-order-1001', name: 'purchase', time: 1795344440021, properties: { value: 10, currency: 'USD' } };
    expect(await (await post(JSON.stringify({ v: 1, events: [order] }))).json()).toEqual({ stored: 1, duplicates: 0 });
    // A repeat (the tag resending after a lost answer) and another order that reused the id.
    const other = { ...order, properties: { value: 99, currency: 'USD', user_data: { email: 'bo@example.com' } } };
    const res = await post(JSON.stringify({ v: 1, events: [order, other] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      stored: 0,
      duplicates: 1,
      conflicts: [{ index: 1, id: 'evt-order-1001', error: expect.stringMatching(/stored before with other content/) }],
    });
    expect(await c.metric('tagrelay_collect_events_total', { result: 'conflict' })).toBe(1);
    expect(await c.metric('tagrelay_collect_events_total', { result: 'duplicate' })).toBe(1);
    const conflicts = await fetch(`${c.url}/debug/api/conflicts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const [conflict] = ((await conflicts.json()) as { conflicts: { eventId: string; body: string }[] }).conflicts;
    expect(conflict!.eventId).toBe('evt-order-1001');
    expect(JSON.parse(conflict!.body)).toEqual({ ...order, properties: { value: 99, currency: 'USD' } });
    const page = await (await fetch(`${c.url}/debug`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(page).toContain('Id conflicts');
    expect(page).not.toContain('bo@example.com');
    const stored = (await c.events()).find((e) => e.id === 'evt-order-1001');
    expect(stored!.properties).toEqual({ value: 10, currency: 'USD' });
  });

  it('stores nothing from refused requests and keeps what was stored', async () => {
    const ids = (await c.events()).map((e) => e.id).sort();
    expect(ids).toEqual(['evt-00000009', 'evt-00000010', 'evt-00000012', 'evt-order-1001']);
  });

  it('serves the tag compressed and cacheable', async () => {
    const res = await fetch(`${c.url}/t.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toContain('max-age');
    const etag = res.headers.get('etag')!;
    expect((await fetch(`${c.url}/t.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    // the builds t.js imports beside it: its debug log, and the TCF listener (modules: CORS-readable)
    for (const [path, holds] of [['/t.debug.js', 'console.log'], ['/t.tcf.js', '__tcfapi']]) {
      const other = await fetch(`${c.url}${path}`);
      expect(other.status).toBe(200);
      expect(other.headers.get('access-control-allow-origin')).toBe('*');
      expect(await other.text()).toContain(holds);
    }
  });

  it('answers /healthz once the store is usable', async () => {
    const res = await fetch(`${c.url}/healthz`);
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe('ok');
  });

  it('keeps /debug behind the admin token', async () => {
    expect((await fetch(`${c.url}/debug`)).status).toBe(401);
    expect((await fetch(`${c.url}/debug/api/events`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });
});

describe('trustProxy', () => {
  it('takes the visitor IP from X-Forwarded-For, as many hops from the right as proxies are trusted', async () => {
    const c = await Collector.start({ config: { trustProxy: 1 } });
    try {
      const res = await fetch(`${c.url}/collect`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' },
        body: JSON.stringify({ v: 1, events: [event('evt-proxy-0001')] }),
      });
      expect(res.status).toBe(200);
      const [stored] = await c.events();
      // One trusted proxy (the socket's peer): the visitor is the last address it appended.
      expect(stored!.context.ip).toBe('203.0.113.9');
    } finally {
      await c.stop();
    }
  });
});

describe('the stored text of an event', () => {
  it('is what JSON.stringify writes for the event as stored, whatever the text it came in', async () => {
    // Chase takes purchases (its vendor unreachable: the events keep their personal data); page views go nowhere.
    const c = await Collector.start({
      config: {
        cookie: { name: '_tr' },
        destinations: { chase: { apiKey: 'text-key', baseUrl: 'http://127.0.0.1:9', events: { purchase: 'purchase' } } },
      },
    });
    try {
      const purchase = (id: string, extra: Record<string, unknown> = {}) => ({
        id,
        name: 'purchase',
        time: 1795344440021,
        anonymousId: 'visitor-script-01',
        properties: { value: 42.5, note: 'a/b', user_data: { email: 'ann@example.com' } },
        ...extra,
      });
      const asSent = purchase('evt-text-0001');
      const spaced = purchase('evt-text-0002');
      const withQuery = purchase('evt-text-0003', { url: 'https://shop.example/p?email=ann%40example.com&utm_source=news#token' });
      const nowhere = { ...purchase('evt-text-0004'), name: 'page_view' };
      // A backend's JSON: spaces after separators, an escaped slash, a trailing zero.
      const spacedText = JSON.stringify(spaced, null, 1).replace('"a/b"', '"a\\/b"').replace('42.5', '42.50');
      const body = `{"v":1,"events":[${JSON.stringify(asSent)},${spacedText},${JSON.stringify(withQuery)},${JSON.stringify(nowhere)}]}`;
      const post = (text: string, headers: Record<string, string> = {}) =>
        fetch(`${c.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body: text });
      expect(await (await post(body)).json()).toEqual({ stored: 4, duplicates: 0 });
      // The visitor's cookie outranks the id the script sent.
      const cookied = purchase('evt-text-0005');
      expect(await (await post(JSON.stringify({ v: 1, events: [cookied] }), { cookie: '_tr=visitor-cookie-01' })).json()).toEqual({
        stored: 1,
        duplicates: 0,
      });
      // The backend's event sent again as JavaScript writes it: the same content, a repeat.
      expect(await (await post(JSON.stringify({ v: 1, events: [spaced] }))).json()).toEqual({ stored: 0, duplicates: 1 });

      const db = new Database(join(c.dataDir, 'tagrelay.db'), { readonly: true });
      const texts = new Map((db.prepare('SELECT id, body FROM events').all() as { id: string; body: string }[]).map((r) => [r.id, r.body]));
      db.close();
      const expected = [
        asSent,
        spaced,
        { ...withQuery, url: 'https://shop.example/p?utm_source=news' },
        { ...nowhere, properties: { value: 42.5, note: 'a/b' } },
        { ...cookied, anonymousId: 'visitor-cookie-01' },
      ];
      for (const e of expected) {
        // The event's JSON as JavaScript writes it, then the request's context and nothing else.
        const text = texts.get(e.id)!;
        const head = `${JSON.stringify(e).slice(0, -1)},"context":`;
        expect(text.slice(0, head.length)).toBe(head);
        expect(JSON.parse(text)).toEqual({ ...e, context: expect.objectContaining({ receivedAt: expect.any(Number) }) });
      }
    } finally {
      await c.stop();
    }
  });
});
