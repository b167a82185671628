/** Click id parameter -> [latest value, capture time ms]. */
export type ClickStore = Record<string, [string, number]>;

export const CLICK_PARAMS = ['click_id', 'clickid', 'irclickid', 'im_ref', 'ndclid'];

/** The click ids still inside the attribution window (`windowMs`) at `now`, or undefined when none. */
export const clickIds = (store: ClickStore, now: number, windowMs: number): Record<string, string> | undefined => {
  let out: Record<string, string> | undefined;
  for (const k in store) if (now - store[k]![1] < windowMs) (out ||= {})[k] = store[k]![0];
  return out;
};

/**
 * Captures `params` from a query string into `store`: the latest value wins, with `now` as its
 * capture time. (Expired entries are skipped by `clickIds` and replaced by the next capture.)
 */
export const captureClickIds = (store: ClickStore, search: string, params: string[], now: number): ClickStore => {
  const q = new URLSearchParams(search);
  for (const p of params) {
    const v = q.get(p);
    if (v) store[p] = [v.slice(0, 512), now];
  }
  return store;
};
