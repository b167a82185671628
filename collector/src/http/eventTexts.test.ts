import { describe, expect, it } from 'vitest';
import { eventTexts } from './eventTexts.js';
import { parseCollectBody } from './validate.js';

/** A small seeded generator (mulberry32), so that a failure can be run again. */
function random(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, pick };
}

/** Numbers as a sender might write them; the value is what JSON.parse reads. */
const NUMBERS = [
  '0', '7', '100', '-12', '42.5', '21.25', '0.1', '0.000001', '0.0000015', '123456789012345', '-0.5',
  // written otherwise by JavaScript:
  '-0', '1.0', '0.10', '1e2', '1E+2', '2.5e-3', '0.0000001', '1234567890123456', '9007199254740993',
  '123456789012345678901', '0.30000000000000005', '1e21', '-0.0',
];
const STRINGS = ['', 'a', 'Anvil', 'ann@example.com', 'é', '日本', '😀', '\u2028', 'a b', '1e2', 'x:y', '{[,]}', 'tab\there', 'q"uote', 'back\\slash', '/'];
const KEYS = ['id', 'value', 'items', 'user_data', 'a', 'b', '', 'é', '2', '10', '01', '1a', 'k y', 'q"k'];

/** Writes a string as JSON, sometimes with escapes JavaScript would not write. */
function writeString(s: string, r: ReturnType<typeof random>): string {
  const canonical = JSON.stringify(s);
  const n = r.next();
  if (n < 0.05) return canonical.replace(/\//g, '\\/');
  if (n < 0.1 && s.length) return `"\\u${s.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(s.slice(1)).slice(1)}`;
  return canonical;
}

/** A random value and its text: mostly as JSON.stringify writes it, sometimes not (whitespace, escapes, numbers, repeated keys). */
function value(r: ReturnType<typeof random>, depth: number): string {
  const space = () => (r.next() < 0.03 ? r.pick([' ', '\n', '\t', '\r\n  ']) : '');
  const kind = depth > 3 ? r.pick(['n', 's', 'l']) : r.pick(['n', 's', 'l', 'o', 'o', 'a']);
  if (kind === 'n') return r.next() < 0.7 ? r.pick(NUMBERS.slice(0, 11)) : r.pick(NUMBERS);
  if (kind === 's') return writeString(r.pick(STRINGS), r);
  if (kind === 'l') return r.pick(['true', 'false', 'null']);
  if (kind === 'a') {
    const items = Array.from({ length: Math.floor(r.next() * 4) }, () => space() + value(r, depth + 1) + space());
    return `[${items.join(',')}]`;
  }
  const keys = Array.from({ length: Math.floor(r.next() * 5) }, () => (r.next() < 0.8 ? r.pick(KEYS.slice(0, 7)) : r.pick(KEYS)));
  const unique = r.next() < 0.9 ? [...new Set(keys)] : keys;
  const members = unique.map((k) => `${space()}${writeString(k, r)}${space()}:${space()}${value(r, depth + 1)}${space()}`);
  return `{${members.join(',')}}`;
}

function keyCount(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + keyCount(x), 0);
  if (v && typeof v === 'object') return Object.entries(v).reduce((n, [, x]) => n + 1 + keyCount(x), 0);
  return 0;
}

describe('eventTexts', () => {
  it('gives each event of a body JSON.stringify wrote its text', () => {
    const events = [
      { id: 'evt-1', name: 'purchase', time: 1795344440021, properties: { value: 42.5, items: [{ q: 2 }, { q: 0.25 }], ok: true, none: null } },
      { id: 'evt-2', name: 'page', url: 'https://shop.example/a?utm_source=x', consent: { gpc: false } },
    ];
    const found = eventTexts(JSON.stringify({ v: 1, events }));
    expect(found).toEqual({ texts: events.map((e) => JSON.stringify(e)), keys: [10, 5] });
  });

  it('finds the events wherever they stand, the last of a repeated key, and nothing in a body without them', () => {
    const e = { id: 'evt-1', name: 'x' };
    expect(eventTexts(`{"events":[${JSON.stringify(e)}],"v":1}`)?.texts).toEqual([JSON.stringify(e)]);
    expect(eventTexts(`{"x":{"events":[1]},"y":["events"],"events":[${JSON.stringify(e)},{}]}`)?.texts).toEqual([JSON.stringify(e), '{}']);
    expect(eventTexts(`{"events":[{"a":1}],"events":[{"b":2}]}`)?.texts).toEqual(['{"b":2}']);
    expect(eventTexts('{"v":1,"events":[]}')).toEqual({ texts: [], keys: [] });
    expect(eventTexts('{"v":1}')).toBeUndefined();
    expect(eventTexts('[{"events":[1]}]')).toBeUndefined();
  });

  it.each([
    ['whitespace', '{ "a":1}'],
    ['an escape', '{"a":"\\/"}'],
    ['an escaped quote', '{"a":"\\""}'],
    ['an exponent', '{"a":1e2}'],
    ['minus zero', '{"a":-0}'],
    ['a trailing zero', '{"a":1.50}'],
    ['16 digits', '{"a":9007199254740993}'],
    ['a small number', '{"a":0.0000001}'],
    ['an integer-like key', '{"b":1,"2":1}'],
  ])('gives no text for an event JavaScript writes otherwise: %s', (_, text) => {
    expect(eventTexts(`{"events":[${text},{"ok":1}]}`)?.texts).toEqual([undefined, '{"ok":1}']);
  });

  it('never gives a text other than what JSON.stringify writes, over 20,000 random bodies', () => {
    let given = 0;
    let items = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const r = random(seed);
      const events = Array.from({ length: 1 + Math.floor(r.next() * 4) }, () => value(r, 2));
      const around = r.pick([`{"v":1,"events":[${events.join(',')}]}`, `{"events":[${events.join(',')}],"x":{"events":[{"a":1}]}}`]);
      const parsed = JSON.parse(around) as { events: unknown[] };
      const found = eventTexts(around);
      expect(found?.texts.length, around).toBe(events.length);
      found!.texts.forEach((text, i) => {
        items++;
        // What parseCollectBody does: a text with more keys than its event had a key repeated.
        if (text === undefined || found!.keys[i] !== keyCount(parsed.events[i])) return;
        given++;
        expect(text, around).toBe(JSON.stringify(parsed.events[i]));
      });
    }
    // Most random values are written as JavaScript writes them: the check above ran on many.
    expect(given).toBeGreaterThan(items / 4);
  });
});

describe('parseCollectBody: the events as they arrived', () => {
  const event = { id: 'evt-12345678', name: 'purchase', time: 1795344440021, properties: { value: 42.5 } };

  it('keeps the text of an event JSON.stringify wrote, and no text for one written otherwise', () => {
    const other = '{"id":"evt-87654321","name":"purchase","time":1795344440021,"properties":{"value":42.50}}';
    const batch = parseCollectBody(Buffer.from(`{"v":1,"events":[${JSON.stringify(event)},${other}]}`));
    expect([0, 1].map((i) => batch.arrivedText(i))).toEqual([JSON.stringify(event), undefined]);
  });

  it('gives no text for an event with a repeated key (the event keeps the last)', () => {
    const repeated = '{"id":"evt-87654321","name":"purchase","time":1795344440021,"properties":{"value":1,"value":2}}';
    const batch = parseCollectBody(Buffer.from(`{"v":1,"events":[${repeated}]}`));
    expect(batch.events[0]!.properties).toEqual({ value: 2 });
    expect(batch.arrivedText(0)).toBeUndefined();
  });

  it('keeps texts beside the events kept when others are refused', () => {
    const batch = parseCollectBody(Buffer.from(JSON.stringify({ v: 1, events: [{ ...event, id: 'bad' }, event] })));
    expect(batch.events).toEqual([event]);
    expect(batch.arrivedText(0)).toBe(JSON.stringify(event));
  });
});
