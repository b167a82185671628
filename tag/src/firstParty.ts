import { captureClickIds, type ClickStore } from './clickIds.js';
import { uuid } from './uuid.js';

/** The anonymous visitor id. */
export let visitor = '';
/** Captured click ids with their capture times. */
export let clicks: ClickStore = {};

/**
 * The first-party memory in localStorage (key `tagrelay`): the visitor id `v` and the click ids `c`,
 * refreshed from this page's URL. Works in memory when storage is blocked.
 */
export const firstParty = (params: string[]): void => {
  let memory: { v?: string; c?: ClickStore } = {};
  try {
    memory = JSON.parse(localStorage.tagrelay);
  } catch {}
  visitor = memory.v = memory.v || uuid();
  clicks = memory.c = captureClickIds(memory.c || {}, location.search, params, Date.now());
  try {
    localStorage.tagrelay = JSON.stringify(memory);
  } catch {}
};
