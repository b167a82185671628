import { afterEach, describe, expect, it, vi } from 'vitest';
import { uuid } from './uuid.js';

describe('uuid', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('is 128 bits from crypto.getRandomValues (there on http:// pages too), never Math.random', () => {
    const random = vi.spyOn(Math, 'random');
    const getRandomValues = vi.fn(<T extends ArrayBufferView | null>(array: T): T => {
      new Uint8Array(array!.buffer).fill(0xff);
      return array;
    });
    vi.stubGlobal('crypto', { getRandomValues });
    expect(uuid()).toBe('1z141z3.1z141z3.1z141z3.1z141z3'); // all 128 bits in the id: 2^32 - 1 is 1z141z3 in base 36
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(getRandomValues.mock.calls[0]![0]!.byteLength * 8).toBe(128);
    expect(random).not.toHaveBeenCalled();
    vi.stubGlobal('crypto', { getRandomValues: <T>(array: T) => array }); // all zeros: as short as it gets
    expect(uuid()).toBe('0.0.0.0');
  });

  it('ids are distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, uuid));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{1,7}(\.[0-9a-z]{1,7}){3}$/);
  });
});
