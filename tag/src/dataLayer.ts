import { setConsent } from './setConsent.js';
import { bridge } from './options.js';
import { track } from './track.js';

type Entry = { [k: string]: any; [i: number]: any };

/**
 * Reads `window.dataLayer` (GTM's and gtag's), the entries already there and every later push:
 * Consent Mode commands (`gtag('consent', 'default'|'update', {...})`, pushed as `arguments`)
 * always; with the GA4 bridge on, GA4 ecommerce events too: `{event: 'purchase', ecommerce: {...}}`.
 */
export const dataLayer = (): void => {
  const w = window as unknown as { dataLayer?: Entry[] };
  const dl = (w.dataLayer = w.dataLayer || []);
  // setConsent and track never throw; `x &&` skips null and undefined entries
  const on = (x: Entry) =>
    x && (x[0] == 'consent' ? setConsent(x[2], x[1] == 'default') : bridge && x.event && x.ecommerce && track(x.event, x.ecommerce));
  dl.forEach(on);
  const push = dl.push;
  dl.push = function (this: Entry[]) {
    // eslint-disable-next-line prefer-rest-params
    const a = arguments as unknown as Entry[];
    const r = push.apply(this, a);
    [].forEach.call(a, on);
    return r;
  };
};
