import { uuid } from './uuid.js';

/**
 * This tab's id: the name of the Web Lock it holds while alive, and the owner of the events it
 * tracks. A new one after a back/forward cache restore: the events the page left at pagehide are
 * then a gone tab's, adopted once like any other.
 */
export let tabId = '';

let release: (() => void) | undefined;

/**
 * Holds the tab's lock (at start and after a back/forward cache restore) or lets it go (pagehide:
 * Chromium keeps no page that holds a Web Lock in its back/forward cache).
 */
export const lockTab = (hold: boolean): void => {
  if (hold) {
    tabId = uuid();
    navigator.locks?.request(tabId, () => new Promise<void>((resolve) => (release = resolve))).catch(String);
  } else release?.();
};
