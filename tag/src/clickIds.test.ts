import { describe, expect, it } from 'vitest';
import { captureClickIds, CLICK_PARAMS, clickIds } from './clickIds.js';

const DAY = 864e5;

describe('click ids', () => {
  it('captures each default parameter with its capture time', () => {
    for (const p of CLICK_PARAMS) {
      expect(captureClickIds(`?${p}=v-${p}&utm_source=x`, CLICK_PARAMS, 1000)).toEqual({ [p]: [`v-${p}`, 1000] });
    }
  });

  it('captures extra parameters, and only the parameters named', () => {
    expect(captureClickIds('?clickid=a&gclid=g1&fbclid=f', [...CLICK_PARAMS, 'gclid'], 1000)).toEqual({
      clickid: ['a', 1000],
      gclid: ['g1', 1000],
    });
  });

  it('ignores empty values and cuts values to 512 characters', () => {
    expect(captureClickIds('?clickid=', CLICK_PARAMS, 1)).toEqual({});
    expect(captureClickIds(`?clickid=${'x'.repeat(600)}`, CLICK_PARAMS, 1).clickid![0]).toHaveLength(512);
  });

  it('attaches click ids inside the attribution window only', () => {
    const store = { clickid: ['a', 0] as [string, number], irclickid: ['b', 20 * DAY] as [string, number] };
    expect(clickIds(store, 29 * DAY, 30 * DAY)).toEqual({ clickid: 'a', irclickid: 'b' });
    expect(clickIds(store, 31 * DAY, 30 * DAY)).toEqual({ irclickid: 'b' });
    expect(clickIds(store, 51 * DAY, 30 * DAY)).toBeUndefined();
  });
});
