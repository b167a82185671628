import { track } from './track.js';

/**
 * `page_view` now and on SPA navigations: pushState, replaceState to a new path, popstate. Never
 * twice in a row for the same URL (the fragment does not count).
 */
export const pageViews = (): void => {
  let last = '';
  const pv = () => {
    const u = location.href.split('#')[0]!;
    if (u != last) {
      last = u;
      track('page_view');
    }
  };
  const h = history as unknown as Record<string, (...a: unknown[]) => unknown>;
  ['pushState', 'replaceState'].forEach((m, i) => {
    const orig = h[m]!;
    h[m] = function (this: unknown) {
      const path = location.pathname;
      // eslint-disable-next-line prefer-rest-params
      const r = orig.apply(this, arguments as unknown as unknown[]);
      if (!i || path != location.pathname) pv();
      return r;
    };
  });
  addEventListener('popstate', pv);
  pv();
};
