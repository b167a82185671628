/** Click id parameter -> [latest value, capture time ms]. */
export type ClickStore = Record<string, [string, number]>;

export const CLICK_PARAMS = ['click_id', 'clickid', 'irclickid', 'im_ref', 'ndclid'];

/** The click ids still inside the attribution window (`windowMs`) at `now`, or undefined when none. */
export const clickIds = (store: ClickStore, now: number, windowMs: number): Record<string, string> | undefined => {
  let ids: Record<string, string> | undefined;
  for (const param in store) {
    const [value, captured] = store[param]!;
    if (now - captured < windowMs) {
      ids = ids || {};
      ids[param] = value;
    }
  }
  return ids;
};

/**
 * The click ids among `params` in a query string, with `now` as their capture time. (The visitor's
 * memory takes them over the ones it kept: the latest value wins; expired entries are skipped by
 * `clickIds` and replaced by the next capture.)
 */
export const captureClickIds = (search: string, params: string[], now: number): ClickStore => {
  const store: ClickStore = {};
  const query = new URLSearchParams(search);
  for (const param of params) {
    const value = query.get(param);
    if (value) store[param] = [value.slice(0, 512), now];
  }
  return store;
};
