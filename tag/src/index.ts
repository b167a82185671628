import { onConsentChange } from './consent.js';
import { dataLayer } from './dataLayer.js';
import { firstParty } from './firstParty.js';
import { clickParams, debug, options, pageViews, script } from './options.js';
import { trackPageViews } from './pageViews.js';
import { flush, leave, schedule, send } from './queue.js';
import { lockTab } from './tab.js';
import { tcf } from './tcf.js';
import { track } from './track.js';

/** The snippet's stub (`track.q` holds the calls made before the tag loaded), or the tag's own `track`. */
type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[]; _loaded?: boolean };

/**
 * Start-up: options, the tab's lock, first-party ids and click ids, `window.track` replacing the
 * snippet's stub, consent sources, the queued calls in order, the first page_view, the flush
 * triggers (hidden, pagehide, back/forward restore, online), and a first flush.
 */
try {
  const w = window as unknown as { track?: Stub };
  if (!w.track?._loaded) options();
  if (!DEBUG && debug) {
    // The debug log lives in its own build, t.debug.js beside t.js: it takes over, with the same data-
    // attributes, and the snippet's stub still holds the queued calls. (A clone of this element would not
    // run: a clone keeps the "already started" flag.)
    const debugScript = document.createElement('script');
    Object.assign(debugScript.dataset, script.dataset);
    debugScript.src = script.src.replace(/\.js\b/, '.debug.js');
    script.after(debugScript);
  } else if (!w.track?._loaded) {
    const queued = w.track?.q || [];
    lockTab(true);
    firstParty(clickParams);
    (track as Stub)._loaded = true;
    w.track = track as Stub;
    onConsentChange(schedule);
    dataLayer();
    tcf();
    for (const args of queued) (track as Stub)(...(args as unknown[]));
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
  }
} catch {}
