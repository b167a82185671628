import { debug } from './options.js';

let ignored = 0;

/** The one debug log (`data-debug`, `?tagrelay_debug=1`). Gone from builds made with DEBUG=false. */
export const log = (...args: unknown[]): void => {
  if (DEBUG && debug) console.log('tagrelay', ...args);
};

/** Every event that is not sent goes through here (no consent, bad name, buffer full, refused…), counted. */
export const ignore = (reason: string, ...what: unknown[]): void => log('dropped', reason, ++ignored, ...what);
