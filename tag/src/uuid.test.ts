import { afterEach, describe, expect, it, vi } from 'vitest';
import { uuid } from './uuid.js';

const ID = /^[A-Za-z0-9_.:-]{8,64}$/; // the collector's event id

describe('uuid', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('is crypto.randomUUID where the browser has it', () => {
    expect(uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('without randomUUID (http:// pages): 128 bits from crypto.getRandomValues, never Math.random', () => {
    const random = vi.spyOn(Math, 'random');
    const getRandomValues = vi.fn(<T extends ArrayBufferView | null>(array: T): T => {
      new Uint8Array(array!.buffer).fill(0xff);
      return array;
    });
    vi.stubGlobal('crypto', { getRandomValues });
    const id = uuid();
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(getRandomValues.mock.calls[0]![0]!.byteLength * 8).toBe(128);
    expect(id).toBe('r.4294967295.4294967295.4294967295.4294967295'); // all 128 bits in the id
    expect(id).toMatch(ID);
    expect(random).not.toHaveBeenCalled();
  });

  it('fallback ids are valid event ids, distinct, and as short as 128 bits allow', () => {
    vi.stubGlobal('crypto', { getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) });
    const ids = new Set(Array.from({ length: 1000 }, uuid));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(ID);
    vi.stubGlobal('crypto', { getRandomValues: <T>(array: T) => array }); // all zeros
    expect(uuid()).toBe('r.0.0.0.0');
    expect(uuid()).toMatch(ID);
  });
});
