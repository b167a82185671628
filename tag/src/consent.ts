import type { Consent, ConsentKey } from '../../collector/src/event.js';

/** Google Consent Mode v2's four keys (https://developers.google.com/tag-platform/security/guides/consent). */
export const CONSENT_KEYS: ConsentKey[] = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];

/** What to do with a buffered event now. */
export const HOLD = 0;
export const SEND = 1;
export const DROP = 2;
export type Verdict = typeof HOLD | typeof SEND | typeof DROP;

/** The consent state of the page: the latest signal wins, key by key. */
const state: Consent = {};

/** Whether the visitor decided (Consent Mode update, TCF, `track('consent')`); defaults do not count. */
export let decided = false;

let onChange = (): void => {};

/** Called after every consent signal (the queue sends what the new state lets go). */
export const onConsentChange = (listener: () => void): void => {
  onChange = listener;
};

/**
 * Applies a consent signal. A Consent Mode `default` (`isDefault`) does not override what the
 * visitor already decided and does not count as a decision. Values other than `granted` and
 * `denied` are ignored.
 */
export const setConsent = (signal: Consent | undefined, isDefault = false): void => {
  if (!signal || (isDefault && decided)) return;
  for (const key of CONSENT_KEYS) {
    const value = signal[key];
    if (value == 'granted' || value == 'denied') state[key] = value;
  }
  if (signal.gdpr != null) state.gdpr = !!signal.gdpr;
  if (!isDefault) decided = true;
  onChange();
};

/** The consent an event carries: the current state plus Global Privacy Control. */
export const stamp = (): Consent => ({
  ...state,
  gpc: !!(navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl,
});

/**
 * What to do with a buffered event. `pending` (1 or 0): it was tracked before the visitor decided (only
 * Consent Mode defaults, or nothing, were known). `implied` (not `required`): send unless its
 * consent denies everything it sets. `required`: send only once some key is granted; a denial
 * drops it, unless it is only a default the visitor has not answered yet (then it is held).
 */
export const verdict = (consent: Consent, pending: number, required: boolean): Verdict => {
  const granted = CONSENT_KEYS.some((key) => consent[key] == 'granted');
  const denied = !granted && CONSENT_KEYS.some((key) => consent[key]);
  if (denied && !(required && pending)) return DROP;
  if (required && !granted) return HOLD;
  return SEND;
};
