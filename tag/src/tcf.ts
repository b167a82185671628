import type { Consent } from '../../collector/src/event.js';

/** The fields of TCF's TCData this tag reads. */
export interface TCData {
  gdprApplies?: boolean;
  eventStatus?: string;
  purpose?: { consents?: Record<string, boolean> };
}

/**
 * IAB TCF v2.2 -> Consent Mode v2, as Google's TCF integration maps purposes
 * (https://support.google.com/admanager/answer/13554116): Purpose 1 (store and/or access
 * information on a device) -> ad_storage, and with Purpose 7 (measure ad performance) ->
 * ad_user_data; Purposes 3 and 4 (personalised ads profile, select personalised ads) ->
 * ad_personalization. Google sets no analytics_storage from TCF; this tag derives it from Purpose 1
 * too. When GDPR does not apply only `gdpr: false` is reported.
 */
export const tcfConsent = (data: TCData): Consent => {
  if (!data.gdprApplies) return { gdpr: false };
  const purposes = data.purpose!.consents!;
  const given = (granted: unknown) => (granted ? 'granted' : 'denied');
  return {
    gdpr: true,
    ad_storage: given(purposes[1]),
    analytics_storage: given(purposes[1]),
    ad_user_data: given(purposes[1] && purposes[7]),
    ad_personalization: given(purposes[3] && purposes[4]),
  };
};

/**
 * Listens to an IAB TCF v2.2 CMP through `__tcfapi` (its stub must be on the page when the tag
 * loads, as the TCF asks of CMPs); each loaded or changed decision becomes a consent signal, given
 * through the public `track('consent', …)`: this runs in its own small build, t.tcf.js, which t.js
 * imports only where a CMP is on the page, and the tag replays it in order if it has not started yet.
 */
export const listenTcf = (): void => {
  const w = window as unknown as { __tcfapi?: (...args: unknown[]) => void; track: (...args: unknown[]) => void };
  w.__tcfapi?.('addEventListener', 2, (data: TCData, success: boolean) => {
    try {
      if (success && data.eventStatus != 'cmpuishown') w.track('consent', tcfConsent(data));
    } catch {}
  });
};
