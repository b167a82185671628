import { captureClickIds, type ClickStore } from './clickIds.js';
import { loadVisitor, saveVisitor, type Visitor } from './store.js';
import { uuid } from './uuid.js';

/** The anonymous visitor id. */
export let visitor = '';
/** Captured click ids with their capture times. */
export let clicks: ClickStore = {};

/**
 * The first-party memory, kept in IndexedDB beside the events (read asynchronously: localStorage's
 * first read blocked the page for 4 ms, up to 12, in a fresh profile): the visitor id `v` and the
 * click ids `c`, refreshed from this page's URL. A new visitor id per page where IndexedDB is
 * unavailable. Never rejects.
 */
export const remember = async (params: string[]): Promise<void> => {
  const memory: Visitor = (await loadVisitor()) || {};
  visitor = memory.v ||= uuid();
  clicks = memory.c = captureClickIds(memory.c || {}, location.search, params, Date.now());
  saveVisitor(memory);
};
