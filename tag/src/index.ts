import { dataLayer } from './dataLayer.js';
import { firstParty } from './firstParty.js';
import { options } from './options.js';
import { pageViews } from './pageViews.js';
import { flush, leave, send } from './queue.js';
import { lockTab } from './tab.js';
import { tcf } from './tcf.js';
import { track } from './track.js';

type Stub = ((...a: unknown[]) => void) & { q?: ArrayLike<unknown>[]; _loaded?: boolean };

/**
 * Start-up: options, the tab's lock, first-party ids and click ids, `window.track` replacing the
 * snippet's stub, consent sources, the queued calls in order, the first page_view, the flush
 * triggers (hidden, pagehide, back/forward restore, online), and a first flush.
 */
try {
  const w = window as unknown as { track?: Stub };
  if (!w.track?._loaded) {
    const [params, views] = options();
    const queued = w.track?.q || [];
    lockTab(true);
    firstParty(params);
    (track as Stub)._loaded = true;
    w.track = track as Stub;
    dataLayer();
    tcf();
    for (const a of queued) (track as (...a: unknown[]) => void)(...(a as unknown[]));
    if (views) pageViews();
    addEventListener('visibilitychange', () => document.hidden && send());
    addEventListener('pagehide', () => (leave(), lockTab(false)));
    addEventListener('pageshow', (e) => e.persisted && flush(lockTab(true)));
    addEventListener('online', flush);
    flush();
  }
} catch {}
