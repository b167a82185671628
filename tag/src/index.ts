import { onConsentChange } from './consent.js';
import { dataLayer } from './dataLayer.js';
import { remember } from './firstParty.js';
import { clickParams, debug, options, pageViews, script } from './options.js';
import { trackPageViews } from './pageViews.js';
import { flush, leave, schedule, send } from './queue.js';
import { lockTab } from './tab.js';
import { track } from './track.js';

/** The snippet's stub (`track.q` holds the calls made before the tag started), or the tag's own `track`. */
type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[]; _loaded?: boolean };

/**
 * Start-up: options and the tab's lock; then, once the visitor's memory is read from IndexedDB
 * (calls meanwhile wait in the snippet's stub, or in one the tag sets up where the page has none),
 * `start`. The flush triggers (hidden, pagehide, back/forward restore, online) listen from the
 * first moment: a page hidden or closed before the memory was read starts the tag then, with the
 * click ids of its URL and no visitor id, so that the calls waiting in the stub still leave by beacon.
 */
try {
  const w = window as unknown as { track?: Stub };
  if (!w.track?._loaded) {
    options();
    /** A build beside t.js (imported as a module: it finds this element by its src, having no currentScript). */
    const beside = (suffix: string) => import(script.src.replace(/\.js\b/, suffix));
    // The debug log lives in its own build, t.debug.js: it takes over; the snippet's stub still holds the
    // queued calls.
    if (!DEBUG && debug) beside('.debug.js');
    else {
      const stub: Stub = (w.track ||= function (...args: unknown[]) {
        (stub.q ||= []).push(args);
      });
      // a second copy of the tag on the page leaves both alone
      stub._loaded = (track as Stub)._loaded = true;
      lockTab(true);
      // The IAB TCF listener, t.tcf.js, only where a CMP is on the page; the tag starts once it listens (its
      // first answer then comes before the queued calls and the page_view are sent) or could not load: until
      // then `started` holds its import, and a page closing meanwhile sends nothing the CMP has not ruled on.
      let started: unknown =
        (w as { __tcfapi?: unknown }).__tcfapi &&
        beside('.tcf.js')
          .catch(String)
          .then(() => (started = 0));
      /** Once: `window.track` replacing the stub, consent sources, the queued calls in order, the first page_view, a first flush. */
      const start = () => {
        try {
          if (!started) {
            started = 1;
            w.track = track as Stub;
            onConsentChange(schedule);
            dataLayer();
            for (const args of stub.q || []) (track as Stub)(...(args as unknown[]));
            if (pageViews) trackPageViews();
            flush();
          }
        } catch {}
      };
      addEventListener('visibilitychange', () => {
        if (document.hidden) {
          start();
          send(true);
        }
      });
      addEventListener('pagehide', () => {
        start();
        leave();
        lockTab(false);
      });
      addEventListener('pageshow', (event) => {
        if (event.persisted) {
          lockTab(true);
          flush();
        }
      });
      addEventListener('online', flush);
      Promise.all([remember(clickParams), started]).then(start);
    }
  }
} catch {}
