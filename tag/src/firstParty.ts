import { captureClickIds, type ClickStore } from './clickIds.js';
import { created, loadVisitor, saveVisitor, type Visitor } from './store.js';
import { uuid } from './uuid.js';

/** The anonymous visitor id (none until the memory was read). */
export let visitor: string | undefined;
/** Captured click ids with their capture times. */
export let clicks: ClickStore = {};

/**
 * What tag 0.1.0 kept in localStorage (key `tagrelay`), read only where its database existed without a
 * visitor record, or where IndexedDB fails: localStorage's first read blocks the page (4 ms, up to 12,
 * in a fresh profile), which a visitor new to the tag never pays.
 */
const older = (): Visitor => {
  try {
    return JSON.parse(localStorage.tagrelay) || {};
  } catch {
    return {};
  }
};

/**
 * The first-party memory, kept in IndexedDB beside the events (read asynchronously): the visitor id
 * `v` and the click ids `c`, refreshed from this page's URL; a visitor of tag 0.1.0 keeps both. A new
 * visitor id per page where IndexedDB and localStorage are both unavailable. Never rejects.
 */
export const remember = async (params: string[]): Promise<void> => {
  // at once: a page closed before the memory was read still sends its click ids
  clicks = captureClickIds(location.search, params, Date.now());
  const memory: Visitor = (await loadVisitor()) || (created ? {} : older());
  visitor = memory.v ||= uuid();
  clicks = memory.c = { ...memory.c, ...clicks };
  saveVisitor(memory);
};
