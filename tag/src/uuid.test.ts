import { afterEach, describe, expect, it, vi } from 'vitest';
import { uuid } from './uuid.js';

const ID = /^[A-Za-z0-9_.:-]{8,64}$/; // the collector's event id

describe('uuid', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('is the time in ms (base 36), then 128 bits from crypto.getRandomValues, never Math.random', () => {
    vi.useFakeTimers({ now: 1796400000000, toFake: ['Date'] });
    const random = vi.spyOn(Math, 'random');
    const getRandomValues = vi.fn(<T extends ArrayBufferView | null>(array: T): T => {
      new Uint8Array(array!.buffer).fill(0xff);
      return array;
    });
    vi.stubGlobal('crypto', { getRandomValues });
    const id = uuid();
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(getRandomValues.mock.calls[0]![0]!.byteLength * 8).toBe(128);
    expect(id).toBe(`${(1796400000000).toString(36)}.4294967295.4294967295.4294967295.4294967295`); // all 128 bits
    expect(id).toMatch(ID);
    expect(random).not.toHaveBeenCalled();
    vi.stubGlobal('crypto', { getRandomValues: <T>(array: T) => array }); // all zeros: as short as it gets
    expect(uuid()).toBe(`${(1796400000000).toString(36)}.0.0.0.0`);
    expect(uuid()).toMatch(ID);
  });

  it('ids are valid event ids, distinct, and sort by the time they were made (as the collector’s id index does: by code unit)', () => {
    const made: string[] = [];
    for (const now of [1796400000000, 1796400000001, 1796400060000, 1796486400000, 2800000000000]) {
      vi.useFakeTimers({ now, toFake: ['Date'] });
      made.push(uuid(), uuid());
      vi.useRealTimers();
    }
    expect(new Set(made).size).toBe(made.length);
    for (const id of made) expect(id).toMatch(ID);
    // Ids of different milliseconds sort by them: the time has 8 base-36 characters until May 2059 (36 ** 8 ms).
    const times = (ids: string[]) => ids.map((id) => id.split('.')[0]);
    expect(times([...made].sort())).toEqual(times(made));
    const ids = new Set(Array.from({ length: 1000 }, uuid));
    expect(ids.size).toBe(1000);
  });
});
