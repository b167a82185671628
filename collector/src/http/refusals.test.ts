import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { Refusals } from './refusals.js';

describe('Refusals', () => {
  it('logs each kind of refusal at most once a minute, with the count since the last line', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const r = new Refusals(createLogger([], (l) => lines.push(l)), () => now);
    for (let i = 0; i < 50; i++) r.record({ status: 429, reason: 'too many requests' }, 'rate-limited');
    r.record({ status: 422, reason: 'events.0.name: …', eventId: 'evt-1', eventName: 'x' });
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { msg: 'ingest refused', kind: 'rate-limited', count: 1 },
      { msg: 'ingest refused', kind: '422', count: 1 },
    ]);
    now += 60_000;
    r.record({ status: 429, reason: 'too many requests' }, 'rate-limited');
    expect(JSON.parse(lines[2]!)).toMatchObject({ kind: 'rate-limited', count: 50 });
    expect(r.recent(2)).toMatchObject([{ status: 429 }, { status: 422, eventId: 'evt-1' }]);
  });
});
