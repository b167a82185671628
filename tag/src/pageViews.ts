import { track } from './track.js';

/**
 * `page_view` now and on SPA navigations to a new path: `pushState`, `replaceState`, `popstate`.
 * Never twice in a row for one path (a new query or fragment alone is no new page, as in Plausible).
 */
export const trackPageViews = (): void => {
  let last: string;
  const pageView = () => {
    if (location.pathname != last) {
      last = location.pathname;
      track('page_view');
    }
  };
  const methods = history as unknown as Record<string, (...args: unknown[]) => void>;
  for (const name of ['pushState', 'replaceState']) {
    const original = methods[name]!;
    methods[name] = function (this: History, ...args: unknown[]) {
      original.apply(this, args);
      pageView();
    };
  }
  addEventListener('popstate', pageView);
  pageView();
};
