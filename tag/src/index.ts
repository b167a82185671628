import { onConsentChange } from './consent.js';
import { dataLayer } from './dataLayer.js';
import { remember } from './firstParty.js';
import { clickParams, debug, options, pageViews, script } from './options.js';
import { trackPageViews } from './pageViews.js';
import { flush, leave, schedule, send } from './queue.js';
import { lockTab } from './tab.js';
import { tcf } from './tcf.js';
import { track } from './track.js';

/** The snippet's stub (`track.q` holds the calls made before the tag started), or the tag's own `track`. */
type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[]; _loaded?: boolean };

/**
 * Start-up: options and the tab's lock; then, once the visitor's memory is read from IndexedDB
 * (calls meanwhile wait in the snippet's stub, or in one the tag sets up where the page has none):
 * `window.track` replacing the stub, consent sources, the queued calls in order, the first
 * page_view, the flush triggers (hidden, pagehide, back/forward restore, online), and a first flush.
 */
try {
  const w = window as unknown as { track?: Stub };
  if (!w.track?._loaded) {
    options();
    // The debug log lives in its own build, t.debug.js beside t.js: it takes over, finding this element
    // by its src (a module has no currentScript), and the snippet's stub still holds the queued calls.
    if (!DEBUG && debug) import(script.src.replace(/\.js\b/, '.debug.js'));
    else {
      const stub: Stub = (w.track ||= function (...args: unknown[]) {
        (stub.q ||= []).push(args);
      });
      // a second copy of the tag on the page leaves both alone
      stub._loaded = (track as Stub)._loaded = true;
      lockTab(true);
      remember(clickParams).then(() => {
        try {
          w.track = track as Stub;
          onConsentChange(schedule);
          dataLayer();
          tcf();
          for (const args of stub.q || []) (track as Stub)(...(args as unknown[]));
          if (pageViews) trackPageViews();
          addEventListener('visibilitychange', () => {
            if (document.hidden) send(true);
          });
          addEventListener('pagehide', () => {
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
          flush();
        } catch {}
      });
    }
  }
} catch {}
