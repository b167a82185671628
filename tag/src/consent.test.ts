import { describe, expect, it } from 'vitest';
import { tcfConsent, verdict } from './consent.js';

const all = (v: 'granted' | 'denied') => ({
  ad_storage: v,
  analytics_storage: v,
  ad_user_data: v,
  ad_personalization: v,
});

describe('verdict (0 hold, 1 send, 2 drop)', () => {
  it.each([
    // consent, pending, required, verdict
    [{}, 1, false, 1],
    [{ gpc: true }, 0, false, 1],
    [all('granted'), 0, false, 1],
    [all('denied'), 0, false, 2],
    [all('denied'), 1, false, 2], // implied: a denying default drops
    [{ ad_storage: 'denied', analytics_storage: 'granted' }, 0, false, 1], // partial: the collector decides
    [{}, 1, true, 0], // required, nothing known: hold
    [all('denied'), 1, true, 0], // required, only a default: hold until the visitor decides
    [all('denied'), 0, true, 2], // required, the visitor denied: discard
    [all('granted'), 0, true, 1],
    [{ ad_user_data: 'granted' }, 0, true, 1],
    [{ gdpr: false }, 0, true, 0], // TCF says GDPR does not apply: no grant, still held
  ] as const)('%j pending=%i required=%s -> %i', (c, pending, required, v) => {
    expect(verdict(c, pending, required)).toBe(v);
  });
});

describe('TCF v2.2 -> Consent Mode (Google mapping)', () => {
  const tc = (purposes: number[], gdprApplies = true) => ({
    gdprApplies,
    eventStatus: 'tcloaded',
    purpose: { consents: Object.fromEntries(purposes.map((p) => [p, true])) },
  });

  it('all purposes granted', () => {
    expect(tcfConsent(tc([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toEqual({ ...all('granted'), gdpr: true });
  });

  it('nothing granted', () => {
    expect(tcfConsent(tc([]))).toEqual({ ...all('denied'), gdpr: true });
  });

  it('purpose 1 alone: storage granted, ad_user_data needs 7, personalisation needs 3 and 4', () => {
    expect(tcfConsent(tc([1]))).toEqual({
      ad_storage: 'granted',
      analytics_storage: 'granted',
      ad_user_data: 'denied',
      ad_personalization: 'denied',
      gdpr: true,
    });
    expect(tcfConsent(tc([1, 7, 3]))).toMatchObject({ ad_user_data: 'granted', ad_personalization: 'denied' });
    expect(tcfConsent(tc([3, 4]))).toMatchObject({ ad_storage: 'denied', ad_personalization: 'granted' });
  });

  it('GDPR does not apply: only the flag', () => {
    expect(tcfConsent(tc([], false))).toEqual({ gdpr: false });
  });
});
