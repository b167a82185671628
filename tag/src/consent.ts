import type { Consent, ConsentKey } from '../../collector/src/event.js';

export const CONSENT_KEYS: ConsentKey[] = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];

/**
 * What to do with a buffered event: 0 hold, 1 send, 2 drop.
 * `pending`: tracked before the visitor decided (only Consent Mode defaults, or nothing, were known).
 * implied: send unless its consent denies everything. required: send only once granted; a denial
 * discards it unless it is only a default the visitor has not answered yet.
 */
export const verdict = (c: Consent, pending: number, required: boolean): 0 | 1 | 2 => {
  // granted: some key granted; denied: keys are set and none is granted
  const granted = CONSENT_KEYS.some((k) => c[k] == 'granted');
  return !granted && CONSENT_KEYS.some((k) => c[k]) && !(required && pending) ? 2 : required && !granted ? 0 : 1;
};

/** The fields of TCF's TCData this tag reads. */
export interface TCData {
  gdprApplies?: boolean;
  eventStatus?: string;
  purpose?: { consents?: Record<string, boolean> };
}

/**
 * IAB TCF v2.2 -> Consent Mode v2, as Google's TCF integration maps purposes: Purpose 1 (store
 * and/or access information on a device) -> ad_storage, and with Purpose 7 (measure ad
 * performance) -> ad_user_data; Purposes 3 and 4 (personalised ads profile, select personalised
 * ads) -> ad_personalization. Google sets no analytics_storage from TCF; this tag derives it from
 * Purpose 1 too. When GDPR does not apply only `gdpr: false` is reported.
 */
export const tcfConsent = (t: TCData): Consent => {
  const c: Consent = { gdpr: !!t.gdprApplies };
  if (t.gdprApplies)
    CONSENT_KEYS.forEach(
      (k, i) => (c[k] = [[1], [1], [1, 7], [3, 4]][i]!.every((n) => t.purpose!.consents![n]) ? 'granted' : 'denied'),
    );
  return c;
};
