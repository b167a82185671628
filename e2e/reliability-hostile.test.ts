import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { chaseEventId, collectorPid, countBy, memoryMb, signUp } from './load.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

const KEY = 'chase-hostile-key';
const HOSTILE = 10_000;
const GOOD_EVERY = 100;
const CONCURRENCY = 20;
const ABORTED_UPLOADS = 20;
const MAX_PEAK_RSS_MB = 300;

let collector: Collector | undefined;
let chase: VendorServer | undefined;
let agent: Agent | undefined;

afterEach(async () => {
  await agent?.close();
  await collector?.stop();
  await chase?.close();
  collector = chase = agent = undefined;
});

/** A small deterministic PRNG (mulberry32), so every run sends the same bodies. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Rng = ReturnType<typeof rng>;

interface Hostile {
  kind: string;
  body: string | Uint8Array | AsyncIterable<Uint8Array>;
  headers?: Record<string, string>;
}

/** A valid event that no destination maps: a hostile body that happens to be valid is stored and sent nowhere. */
const probe = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `probe-${String(i).padStart(6, '0')}`,
  name: 'probe',
  time: Date.now(),
  ...extra,
});
const batch = (...events: unknown[]) => ({ v: 1, events });
/** JSON with a placeholder replaced by raw text: keys like __proto__ and number literals JSON.stringify cannot write. */
const withRaw = (value: unknown, raw: string) => JSON.stringify(value).replace('"@RAW@"', raw);
const RAW = '@RAW@';

const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
const NUMBERS = [
  '1e308',
  '-1e308',
  '1e309',
  '-1e309',
  '123456789012345678901234567890123456789',
  '-0',
  '5e-324',
  'NaN',
  'Infinity',
  '0x10',
  '01',
  '1.',
  '.5',
  '+1',
  '9'.repeat(5000),
];
const WRONG = [null, true, false, 0, -1, 1.5, '', 'x', [], {}, [null], { a: null }, 'a'.repeat(300)];
const EVENT_FIELDS = [
  'id',
  'name',
  'time',
  'anonymousId',
  'url',
  'referrer',
  'clickIds',
  'consent',
  'properties',
  'context',
  'extra',
];
const CONSENT_FIELDS = [
  'ad_storage',
  'analytics_storage',
  'ad_user_data',
  'ad_personalization',
  'gpc',
  'gdpr',
  'other',
];
const BAD_UTF8 = [
  [0xff],
  [0xfe],
  [0xc3, 0x28],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
];
const UNICODE = [
  '\\ud800',
  '\\udfff',
  '\\ud800\\ud800',
  '\\udc00\\ud800',
  '\\uD83D\\uDE00',
  '\\u0000',
  '\\u2028\\u2029',
  '\\ufeff',
  '\\uffff',
  '\\u12',
  '\\x41',
  '\\',
  '\u202e\u0635',
  '👩‍👩‍👧‍👦',
];
const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'text/plain;charset=UTF-8',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'a/b/c;;;=',
  '',
  'application/json; charset="\u00ff"',
];

let bomb: Buffer | undefined;
/** 20 MB of spaces after a valid batch, gzipped to about 20 KB. */
const gzipBomb = () =>
  (bomb ??= gzipSync(
    Buffer.concat([Buffer.from(JSON.stringify(batch(probe(0)))), Buffer.alloc(20 * 1024 * 1024, 0x20)]),
  ));

const generators: ((r: Rng, i: number) => Hostile)[] = [
  function truncated(r, i) {
    const text = JSON.stringify(batch(probe(i, { properties: { a: [1, 2, { b: 'c' }] } }), probe(i + 1)));
    return { kind: 'truncated JSON', body: text.slice(0, 1 + r.int(text.length - 1)) };
  },
  function invalidUtf8(r, i) {
    const text = Buffer.from(JSON.stringify(batch(probe(i, { properties: { note: 'XXXX' } }))));
    const at = text.indexOf('XXXX');
    return {
      kind: 'invalid UTF-8',
      body: Buffer.concat([text.subarray(0, at), Buffer.from(r.pick(BAD_UTF8)), text.subarray(at + 4)]),
    };
  },
  function prototypeKeys(r, i) {
    const key = JSON.stringify(r.pick(FORBIDDEN_KEYS));
    const payload = `${key}:{"polluted":true,"constructor":{"prototype":{"polluted":true}}}`;
    const e = {
      ...probe(i),
      properties: { a: { b: { c: { d: RAW } } } },
      clickIds: { gclid: 'x' },
      consent: { gpc: false },
    };
    const text = JSON.stringify(batch(e));
    const places = [
      () => text.replace('{"v":1', `{${payload},"v":1`),
      () => text.replace('{"id"', `{${payload},"id"`),
      () => text.replace('"properties":{', `"properties":{${payload},`),
      () => text.replace('"a":{', `"a":{${payload},`),
      () => text.replace('"b":{', `"b":{${payload},`),
      () => text.replace('"c":{', `"c":{${payload},`),
      () => text.replace('"clickIds":{', `"clickIds":{${payload},`),
      () => text.replace('"consent":{', `"consent":{${payload},`),
      () => text.replace(/}$/, `,${payload}}`), // after the fields, so a naive merge would overwrite
    ];
    return { kind: 'prototype keys', body: r.pick(places)().replace('"@RAW@"', '1') };
  },
  function hugeNumbers(r, i) {
    const n = r.pick(NUMBERS);
    const shapes = [
      { v: RAW, events: [probe(i)] },
      batch({ ...probe(i), time: RAW }),
      batch({ ...probe(i), properties: { value: RAW } }),
      batch({ ...probe(i), properties: { items: [{ price: RAW, quantity: RAW }] } }),
      batch({ ...probe(i), id: RAW }),
    ];
    return { kind: 'huge numbers', body: withRaw(r.pick(shapes), n).replaceAll('"@RAW@"', n) };
  },
  function deepNesting(r, i) {
    const depth = r.pick([9, 100, 1000, 10_000, 30_000, 100_000]);
    const shapes = [
      () => '['.repeat(depth) + ']'.repeat(depth),
      () => '['.repeat(depth),
      () => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      () => withRaw(batch({ ...probe(i), properties: { deep: RAW } }), '['.repeat(depth) + ']'.repeat(depth)),
      () =>
        withRaw(batch({ ...probe(i), properties: { deep: RAW } }), '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth)),
    ];
    return { kind: 'deep nesting', body: r.pick(shapes)() };
  },
  function wrongTypes(r, i) {
    const value = r.pick(WRONG);
    const where = r.int(4);
    if (where === 0)
      return {
        kind: 'wrong types',
        body: JSON.stringify({ v: r.pick([value, 1]), events: r.pick([value, [probe(i)]]) }),
      };
    if (where === 1)
      return {
        kind: 'wrong types',
        body: JSON.stringify(batch({ ...probe(i), consent: { [r.pick(CONSENT_FIELDS)]: value } })),
      };
    if (where === 2) return { kind: 'wrong types', body: JSON.stringify(batch(value)) };
    return { kind: 'wrong types', body: JSON.stringify(batch({ ...probe(i), [r.pick(EVENT_FIELDS)]: value })) };
  },
  function bigStrings(r, i) {
    const size = r.pick([3000, 60_000, 100_000]);
    const s = 'x'.repeat(size);
    const shapes = [
      batch({ ...probe(i), url: s }),
      batch({ ...probe(i), properties: { note: s } }),
      batch({ ...probe(i), properties: { [s.slice(0, 200)]: 1 } }),
      batch({ ...probe(i), id: s }),
    ];
    return { kind: 'big strings', body: JSON.stringify(r.pick(shapes)) };
  },
  function oversized(r, i) {
    const text = JSON.stringify(batch(probe(i)));
    const size = r.pick([65 * 1024, 70 * 1024, 256 * 1024]);
    if (r.int(2) === 0) return { kind: 'oversized', body: text + ' '.repeat(size - text.length) };
    // Chunked, with no Content-Length: the limit must hold while reading.
    const chunk = new Uint8Array(8192).fill(0x20);
    return {
      kind: 'oversized chunked',
      body: (async function* () {
        yield new TextEncoder().encode(text);
        for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
      })(),
    };
  },
  function emptyAndScalars(r) {
    return {
      kind: 'empty and scalars',
      body: r.pick([
        '',
        ' ',
        '\n',
        'null',
        'true',
        '0',
        '-1',
        '"str"',
        '[]',
        '{}',
        '{"v":1}',
        '{"events":[]}',
        '{"v":1,"events":[]}',
        '{"v":1,"events":{}}',
        '{"v":2,"events":[{}]}',
        '\u0000',
        '\ufeff',
      ]),
    };
  },
  function topLevelArrays(r, i) {
    const shapes = [[batch(probe(i))], [[probe(i)]], [1, 2, 3], [null], Array.from({ length: 5000 }, () => 0)];
    return { kind: 'top-level arrays', body: JSON.stringify(r.pick(shapes)) };
  },
  function binaryGarbage(r) {
    const bytes = new Uint8Array(1 + r.int(8192));
    for (let k = 0; k < bytes.length; k++) bytes[k] = r.int(256);
    return {
      kind: 'binary garbage',
      body: bytes,
      headers: { 'content-type': r.pick(['application/octet-stream', 'application/json', 'image/png']) },
    };
  },
  function manyEvents(r, i) {
    const shapes = [
      () => JSON.stringify(batch(...Array.from({ length: 10_000 }, () => ({})))),
      () => JSON.stringify(batch(...Array.from({ length: 10_000 }, () => null))),
      () => JSON.stringify(batch(...Array.from({ length: 10_000 }, () => 0))),
      () => JSON.stringify(batch(...Array.from({ length: 501 }, (_, k) => probe(i * 1000 + k)))),
      () => JSON.stringify(batch(...Array.from({ length: 300 }, (_, k) => ({ ...probe(k), name: 'sign_up' })))), // 300 × the same ids, no email
    ];
    return { kind: 'many events', body: r.pick(shapes)() };
  },
  function unicodeEdges(r, i) {
    const u = r.pick(UNICODE);
    const shapes = [
      batch({ ...probe(i), id: RAW }),
      batch({ ...probe(i), name: RAW }),
      batch({ ...probe(i), url: RAW }),
      batch({ ...probe(i), properties: { note: RAW } }),
      batch({ ...probe(i), properties: { [RAW]: 1 } }),
      batch({ ...probe(i), clickIds: { gclid: RAW } }),
      batch({ ...probe(i), anonymousId: RAW }),
    ];
    const text = JSON.stringify(r.pick(shapes));
    return { kind: 'unicode edges', body: text.replace('"@RAW@"', `"${u}"`).replace('@RAW@', u) };
  },
  function encodings(r, i) {
    const body = JSON.stringify(batch(probe(i)));
    const shapes: Hostile[] = [
      { kind: 'content-encoding', body: 'not gzip at all', headers: { 'content-encoding': 'gzip' } },
      { kind: 'content-encoding', body: 'not deflate', headers: { 'content-encoding': 'deflate' } },
      { kind: 'content-encoding', body: body, headers: { 'content-encoding': 'br' } },
      { kind: 'content-encoding', body: body, headers: { 'content-encoding': 'x-unknown, gzip' } },
      { kind: 'content-encoding', body: gzipSync(body).subarray(0, 20), headers: { 'content-encoding': 'gzip' } },
      { kind: 'gzip bomb', body: gzipBomb(), headers: { 'content-encoding': 'gzip' } },
    ];
    return r.pick(shapes);
  },
  function prototypeNames(r, i) {
    // Valid shape, names and ids that are Object.prototype members: must map to no destination.
    const name = r.pick([
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
      'prototype',
    ]);
    return {
      kind: 'prototype names',
      body: JSON.stringify(
        batch({
          ...probe(i),
          name,
          id: r.pick([`${name}-${i}`.slice(0, 64).padEnd(8, '_'), 'constructor', 'hasOwnProperty']),
        }),
      ),
    };
  },
  function manyKeys(r, i) {
    const n = r.pick([1000, 4000]);
    const props = Object.fromEntries(Array.from({ length: n }, (_, k) => [`k${k}`, k]));
    return { kind: 'many keys', body: JSON.stringify(batch({ ...probe(i), properties: props })) };
  },
  function foreignOrigin(r, i) {
    return {
      kind: 'foreign origin',
      body: JSON.stringify(batch(probe(i))),
      headers: { origin: r.pick(['https://evil.example', 'null', 'http://127.0.0.1.evil.example']) },
    };
  },
];

/** The i-th hostile request, the same on every run. */
function hostile(i: number): Hostile {
  const r = rng(i * 7919 + 1);
  const h = generators[i % generators.length]!(r, i);
  return { ...h, headers: { 'content-type': r.pick(CONTENT_TYPES), ...h.headers } };
}

/**
 * Good events sent alongside: a plain one and one with odd but valid content; and beside them one
 * holding text no store can keep (a NUL, halves of surrogate pairs), which is refused alone.
 */
function goodBatch(n: number): { ids: string[]; body: string } {
  const plain = `good-${String(n).padStart(5, '0')}`;
  const odd = `good-odd-${String(n).padStart(5, '0')}`;
  const oddEvent = signUp(odd, { clickIds: { gclid: 'Cj0KCQ\u00e9' }, anonymousId: '\ud83d\ude00' });
  (oddEvent.properties as Record<string, unknown>).note = 'a pair \ud83d\ude00, \u2028, \u202e, \ufeff, 👩‍👩‍👧‍👦';
  Object.assign(oddEvent.properties, {
    big: 1e308,
    small: -1e308,
    huge: 123456789012345678901234567890,
    tiny: 5e-324,
    '\ud83d\ude00key': true,
  });
  const unstorable = signUp(`bad-text-${String(n).padStart(5, '0')}`);
  Object.assign(unstorable.properties, { note: 'lone \ud800 surrogate, \u0000', '\udc00key': true });
  return { ids: [plain, odd], body: JSON.stringify(batch(signUp(plain), oddEvent, unstorable)) };
}

/** A client that dies half-way through its upload. */
function abortedUpload(url: string): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '10000' },
    });
    req.on('error', () => resolve());
    req.write('{"v":1,"events":[');
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 20);
  });
}

describe('reliability: hostile bodies', () => {
  it(`answers ${HOSTILE} malformed, oversized, nested and hostile bodies with 4xx, stays up with bounded memory, and delivers every good event sent alongside`, async () => {
    chase = await startChase(KEY);
    collector = await Collector.start({
      config: { destinations: { chase: { apiKey: KEY, baseUrl: chase.url, events: { sign_up: 'sign-up' } } } },
    });
    const c = collector;
    const pid = collectorPid(c.configPath);
    const before = memoryMb(pid);
    agent = new Agent({ connections: CONCURRENCY, headersTimeout: 15_000, bodyTimeout: 15_000 });

    const byStatus = new Map<string, number>(); // "413 oversized" -> count
    const serverErrors: string[] = [];
    const goodIds: string[] = [];
    const goodFailures: string[] = [];
    let peakRss = before.rss;
    let next = 0;
    const deadline = Date.now() + 60_000; // about 15 s on an idle machine

    async function send(h: Hostile): Promise<{ status: number; text: string } | { error: string }> {
      try {
        const res = await request(`${c.url}/collect`, {
          method: 'POST',
          headers: h.headers,
          body: h.body as never,
          dispatcher: agent,
        });
        return { status: res.statusCode, text: (await res.body.text()).slice(0, 300) };
      } catch (e) {
        return { error: (e as { code?: string }).code ?? (e as Error).message };
      }
    }

    async function worker(): Promise<void> {
      for (let i = next++; i < HOSTILE && Date.now() < deadline; i = next++) {
        if (i % GOOD_EVERY === 0) {
          const good = goodBatch(i / GOOD_EVERY);
          const r = await send({ kind: 'good', body: good.body, headers: { 'content-type': 'text/plain' } });
          const answer = 'status' in r && r.status === 200 ? (JSON.parse(r.text) as { stored: number; rejected?: { index: number; error: string }[] }) : undefined;
          const refusedAlone = answer?.rejected?.length === 1 && answer.rejected[0]!.index === 2 && /holds a NUL character or half of a surrogate pair/.test(answer.rejected[0]!.error);
          if (answer?.stored === 2 && refusedAlone) goodIds.push(...good.ids);
          else goodFailures.push(`${good.ids[0]}: ${JSON.stringify(r)}`);
        }
        const h = hostile(i);
        const r = await send(h);
        const key = 'status' in r ? `${r.status}` : `error ${r.error}`;
        byStatus.set(`${key} ${h.kind}`, (byStatus.get(`${key} ${h.kind}`) ?? 0) + 1);
        // After a 413 the collector closes the connection rather than read the rest: a client still
        // streaming an oversized body (of any kind: 100,000 levels of nesting are 500 KB) may see that
        // close (EPIPE, ECONNRESET) before it reads the 413.
        const tooBig = h.kind.startsWith('oversized') || (typeof h.body === 'string' && Buffer.byteLength(h.body) > 64 * 1024);
        const cutOff = !('status' in r) && tooBig && /^(EPIPE|ECONNRESET|UND_ERR_SOCKET)$/.test(r.error);
        if ((!('status' in r) && !cutOff) || ('status' in r && r.status >= 500)) serverErrors.push(`#${i} ${h.kind}: ${JSON.stringify(r)}`);
        if (i % 250 === 0) peakRss = Math.max(peakRss, memoryMb(pid).rss);
      }
    }

    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: CONCURRENCY }, () => worker()),
      (async () => {
        for (let k = 0; k < ABORTED_UPLOADS; k++) await abortedUpload(c.url);
      })(),
    ]);
    const elapsed = Date.now() - started;

    const health = await fetch(`${c.url}/healthz`);
    const after = memoryMb(pid);
    const statuses = new Map<string, number>();
    for (const [k, n] of byStatus) statuses.set(k.split(' ')[0]!, (statuses.get(k.split(' ')[0]!) ?? 0) + n);
    console.log(
      `${next >= HOSTILE ? HOSTILE : next} hostile bodies in ${elapsed} ms, by status: ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `RSS ${before.rss.toFixed(0)} MB at start, ${after.rss.toFixed(0)} MB at end, peak (VmHWM) ${after.peak.toFixed(0)} MB (sampled max RSS ${peakRss.toFixed(0)} MB)\n` +
        [...byStatus]
          .sort()
          .map(([k, n]) => `  ${k}: ${n}`)
          .join('\n'),
    );

    expect(next).toBeGreaterThanOrEqual(HOSTILE); // all were sent within the deadline
    expect(serverErrors.slice(0, 20)).toEqual([]);
    // Bodies with nothing valid in them are refused whole: none of these kinds may be answered 2xx (which
    // would mean something of them was stored). The other kinds hold valid events beside odd ones.
    const neverValid = new Set(['truncated JSON', 'invalid UTF-8', 'prototype keys', 'deep nesting', 'big strings', 'oversized', 'oversized chunked', 'empty and scalars', 'top-level arrays', 'binary garbage', 'content-encoding', 'gzip bomb', 'foreign origin']);
    const acceptedHostile = [...byStatus].filter(([k]) => /^2/.test(k) && neverValid.has(k.slice(k.indexOf(' ') + 1)));
    expect(acceptedHostile).toEqual([]);
    expect([...byStatus.keys()].some((k) => k.endsWith(' prototype keys'))).toBe(true); // the kinds were all sent
    expect(await c.metric('tagrelay_collect_requests_total', { status: '5xx' })).toBe(0);
    expect(c.output).not.toMatch(/collect failed|request failed/);
    expect(health.status).toBe(200);
    expect(collectorPid(c.configPath)).toBe(pid); // the same process: it never died
    expect(after.peak).toBeLessThan(MAX_PEAK_RSS_MB);

    // Every good event was acknowledged as stored, and reaches Chase.
    expect(goodFailures).toEqual([]);
    expect(goodIds).toHaveLength(2 * (HOSTILE / GOOD_EVERY));
    await waitFor(
      () => {
        const got = countBy(chase!.requests, chaseEventId);
        return goodIds.every((id) => got.has(id));
      },
      30_000,
      'every good event at Chase',
    );
    const got = countBy(chase.requests, chaseEventId);
    expect(goodIds.filter((id) => got.get(id) !== 1)).toEqual([]);
    expect(chase.violations).toEqual([]);
    const odd = chase.requests.find((r) => chaseEventId(r) === 'good-odd-00000')!;
    expect(JSON.parse(odd.body).conversion_data).toMatchObject({
      note: 'a pair \ud83d\ude00, \u2028, \u202e, \ufeff, 👩‍👩‍👧‍👦',
      big: 1e308,
      small: -1e308,
    });
  }, 100_000);
});
