import { setConsent } from './consent.js';
import { bridge } from './options.js';
import { track } from './track.js';

/** A dataLayer entry: gtag's commands are `arguments` objects, GTM's events plain objects. */
type Entry = { [key: string]: any; [index: number]: any };

/**
 * Reads `window.dataLayer` (GTM's and gtag's), the entries already there and every later push:
 * Consent Mode commands (`gtag('consent', 'default'|'update', {...})`, pushed as `arguments`)
 * always; with the GA4 bridge on (`data-datalayer`), GA4 ecommerce events too:
 * `{event: 'purchase', ecommerce: {...}}`. setConsent and track never throw.
 */
export const dataLayer = (): void => {
  const w = window as unknown as { dataLayer?: Entry[] };
  const layer = (w.dataLayer ||= []);
  const read = (entry: Entry) => {
    if (!entry) return;
    if (entry[0] == 'consent') setConsent(entry[2], entry[1] == 'default');
    else if (bridge && entry.event && entry.ecommerce) track(entry.event, entry.ecommerce);
  };
  layer.forEach(read);
  const push = layer.push;
  layer.push = function (this: Entry[], ...entries: Entry[]) {
    const length = push.apply(this, entries);
    entries.forEach(read);
    return length;
  };
};
