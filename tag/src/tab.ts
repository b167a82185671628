import { uuid } from './uuid.js';

/** This tab's id: the name of the Web Lock it holds while alive, and the owner of the events it tracks. */
export const tabId = uuid();

let release: (() => void) | undefined;

/**
 * Holds the tab's lock (at start and after a back/forward cache restore) or lets it go (pagehide:
 * Chromium keeps no page that holds a Web Lock in its back/forward cache).
 */
export const lockTab = (hold: boolean): void => {
  if (hold) navigator.locks?.request(tabId, () => new Promise<void>((resolve) => (release = resolve))).catch(String);
  else release?.();
};
