import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DROP, HOLD, SEND, verdict } from './consent.js';
import { tcfConsent } from './tcf.js';

const all = (v: 'granted' | 'denied') => ({
  ad_storage: v,
  analytics_storage: v,
  ad_user_data: v,
  ad_personalization: v,
});

describe('verdict', () => {
  it.each([
    // consent, pending, required, verdict
    [{}, 1, false, SEND],
    [{ gpc: true }, 0, false, SEND],
    [all('granted'), 0, false, SEND],
    [all('denied'), 0, false, DROP],
    [all('denied'), 1, false, DROP], // implied: a denying default drops
    [{ ad_storage: 'denied', analytics_storage: 'granted' }, 0, false, SEND], // partial: the collector decides
    [{}, 1, true, HOLD], // required, nothing known: hold
    [all('denied'), 1, true, HOLD], // required, only a default: hold until the visitor decides
    [all('denied'), 0, true, DROP], // required, the visitor denied: discard
    [all('granted'), 0, true, SEND],
    [{ ad_user_data: 'granted' }, 0, true, SEND],
    [{ gdpr: false }, 0, true, HOLD], // TCF says GDPR does not apply: no grant, still held
  ] as const)('%j pending=%i required=%s -> %i', (c, pending, required, v) => {
    expect(verdict(c, pending, required)).toBe(v);
  });
});

describe('consent state (one module: state, stamp, verdict)', () => {
  // a fresh module each time: the state lives in it
  const fresh = async () => {
    vi.resetModules();
    return import('./consent.js');
  };
  beforeEach(() => vi.stubGlobal('navigator', { globalPrivacyControl: true }));
  afterEach(() => vi.unstubAllGlobals());

  it('the latest signal wins key by key; stamp adds Global Privacy Control', async () => {
    const { setConsent, stamp } = await fresh();
    setConsent({ ad_storage: 'granted', analytics_storage: 'denied' });
    setConsent({ analytics_storage: 'granted', ad_user_data: 'maybe' as never, gdpr: true });
    expect(stamp()).toEqual({ ad_storage: 'granted', analytics_storage: 'granted', gdpr: true, gpc: true });
  });

  it('a default neither overrides a decision nor counts as one; every signal tells the listener', async () => {
    const consent = await fresh();
    const changed = vi.fn();
    consent.onConsentChange(changed);
    consent.setConsent(all('denied'), true);
    expect(consent.decided).toBe(false);
    expect(consent.stamp()).toMatchObject(all('denied'));
    consent.setConsent({ ad_storage: 'granted' });
    expect(consent.decided).toBe(true);
    consent.setConsent(all('denied'), true); // a later default: ignored
    expect(consent.stamp()).toMatchObject({ ad_storage: 'granted', analytics_storage: 'denied' });
    expect(changed).toHaveBeenCalledTimes(2);
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
