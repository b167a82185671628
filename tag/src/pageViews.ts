import { pageUrl } from './pageUrl.js';
import { track } from './track.js';

/**
 * `page_view` now and on SPA navigations: pushState, replaceState to a new path, popstate. Never
 * twice in a row for the same URL (the fragment does not count).
 */
export const trackPageViews = (): void => {
  let last = '';
  const pageView = () => {
    const url = pageUrl();
    if (url != last) {
      last = url;
      track('page_view');
    }
  };
  const methods = history as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['pushState', 'replaceState']) {
    const original = methods[name]!;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      const path = location.pathname;
      const result = original.apply(this, args);
      if (name == 'pushState' || path != location.pathname) pageView();
      return result;
    };
  }
  addEventListener('popstate', pageView);
  pageView();
};
