import { CLICK_PARAMS } from './clickIds.js';

/** Where events go (`data-endpoint`, default `<origin of t.js>/collect`). */
export let endpoint = '';
/** `data-consent="required"`: hold events until consent is granted. */
export let required = false;
/** `data-debug` or `?tagrelay_debug=1`. */
export let debug = false;
/** `data-datalayer`: track GA4 ecommerce events pushed to `window.dataLayer`. */
export let bridge = false;
/** Attribution window in ms (`data-attribution-days`, default 30). */
export let attribution = 0;

/**
 * Reads the `data-` attributes of the tag's own script element (INTERFACE.md; `document.currentScript`,
 * else the script whose src ends with `/t.js`) and returns what only start-up needs: the click id
 * parameters and whether page views are on.
 */
export const options = (): [params: string[], pageViews: boolean] => {
  const d = document;
  const el = (d.currentScript || d.querySelector('script[src$="/t.js"]')) as HTMLScriptElement;
  const a = el.dataset;
  endpoint = a.endpoint || new URL('/collect', el.src).href;
  required = a.consent == 'required';
  debug = a.debug != null || /tagrelay_debug=1/.test(location.href);
  attribution = (+a.attributionDays! || 30) * 864e5;
  bridge = a.datalayer != null;
  return [CLICK_PARAMS.concat((a.clickParams || '').split(/ *, */)), a.pageViews != 'off'];
};
