import type { Consent, ConsentKey } from '../event.js';

/** Consent Mode keys that Global Privacy Control (an opt-out of sale and sharing) denies. */
const deniedByGpc: ReadonlySet<ConsentKey> = new Set(['ad_user_data', 'ad_personalization']);

/**
 * The first required consent key this event does not allow, or undefined when all are allowed.
 * A key the event does not mention counts as allowed: the tag only sends events without an
 * explicit grant when the site chose `data-consent="implied"`. GPC denies ad_user_data and
 * ad_personalization.
 */
export function missingConsent(consent: Consent | undefined, required: readonly ConsentKey[]): string | undefined {
  for (const key of required) {
    if (consent?.[key] === 'denied') return key;
    if (consent?.gpc && deniedByGpc.has(key)) return `${key} (GPC)`;
  }
  return undefined;
}
