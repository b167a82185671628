import { CLICK_PARAMS } from './clickIds.js';

/** Where events go (`data-endpoint`, default `<origin of t.js>/collect`). */
export let endpoint: string;
/** `data-consent="required"`: hold events until consent is granted. */
export let required: boolean;
/** `data-debug` or `?tagrelay_debug=1`. */
export let debug: boolean;
/** `data-datalayer`: track GA4 ecommerce events pushed to `window.dataLayer`. */
export let bridge: boolean;
/** Attribution window in ms (`data-attribution-days`, default 30). */
export let attribution: number;
/** The query parameters captured as click ids: the defaults and `data-click-params`. */
export let clickParams: string[];
/** `data-page-views`: a page_view on load and on SPA navigations unless `off`. */
export let pageViews: boolean;
/** The tag's own script element. */
export let script: HTMLScriptElement;
/** `data-cookies`: first-party cookies copied into each event, by name. */
export let cookieNames: string[];
/** `data-cookie`: the collector sets a visitor cookie, so requests carry cookies (`credentials: include`). */
export let withCookie: boolean;

/**
 * Reads the `data-` attributes of the tag's own script element: `document.currentScript`, else
 * the script whose src contains `/t.js` (t.debug.js runs as a module, which has none).
 */
export const options = (): void => {
  script = (document.currentScript || document.querySelector('script[src*="/t.js"]')) as HTMLScriptElement;
  const data = script.dataset;
  endpoint = data.endpoint || new URL('/collect', script.src).href;
  required = data.consent == 'required';
  debug = data.debug != null || /tagrelay_debug=1/.test(location.href);
  attribution = (+data.attributionDays! || 30) * 864e5;
  bridge = data.datalayer != null;
  clickParams = CLICK_PARAMS.concat(data.clickParams?.match(/[^\s,]+/g) || []);
  pageViews = data.pageViews != 'off';
  cookieNames = data.cookies?.match(/[^\s,]+/g) || []; // track() reads cookies only when one is named
  withCookie = data.cookie != null;
};
