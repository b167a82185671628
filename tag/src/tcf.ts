import { tcfConsent, type TCData } from './consent.js';
import { setConsent } from './setConsent.js';

/**
 * Listens to an IAB TCF v2.2 CMP through `__tcfapi` (its stub must be on the page when the tag
 * loads, as the TCF asks of CMPs); each loaded or changed decision becomes a consent signal.
 */
export const tcf = (): void => {
  const api = (window as unknown as { __tcfapi?: (...a: unknown[]) => void }).__tcfapi;
  if (api)
    api('addEventListener', 2, (t: TCData, ok: boolean) => {
      try {
        if (ok && t.eventStatus != 'cmpuishown') setConsent(tcfConsent(t));
      } catch {}
    });
};
