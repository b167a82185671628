import type { Consent } from '../../collector/src/event.js';
import { CONSENT_KEYS } from './consent.js';
import { schedule } from './queue.js';

/** Whether the visitor decided (Consent Mode update, TCF, track('consent')); defaults do not count. */
export let decided = false;
const consent: Consent = {};

/**
 * Applies a consent signal; the latest signal wins key by key. A Consent Mode `default` (`isDefault`)
 * does not override what the visitor already decided and does not count as a decision.
 */
export const setConsent = (c: Consent | undefined, isDefault?: boolean): void => {
  if (!c || (isDefault && decided)) return;
  for (const k of CONSENT_KEYS) if (/^(granted|denied)$/.test(c[k]!)) consent[k] = c[k];
  if (c.gdpr != null) consent.gdpr = !!c.gdpr;
  decided ||= !isDefault;
  schedule();
};

/** The consent an event carries: the current state plus Global Privacy Control. */
export const stamp = (): Consent => ({
  ...consent,
  gpc: !!(navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl,
});
