/**
 * An event made safe for the collector's schema, so one odd value never gets a whole batch
 * refused: JSON round trip (drops functions and undefined, Dates to strings, NaN to null), strings cut
 * to 2,048 characters, arrays to 200 items. Throws on cycles.
 */
export const clean = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_, x) => (x && x.slice ? x.slice(0, x.map ? 200 : 2048) : x)));
