/** Strings cut to 2,048 characters and arrays to 200 items (the collector allows 500). */
const cut = (_key: string, value: unknown): unknown => {
  if (typeof value == 'string') return value.slice(0, 2048);
  if (Array.isArray(value)) return value.slice(0, 200);
  return value;
};

/**
 * An event made safe for the collector's schema, so one odd value never gets a whole batch
 * refused: JSON round trip (drops functions and undefined, Dates to strings, NaN to null), strings
 * cut to 2,048 characters, arrays to 200 items. Throws on cycles.
 */
export const clean = (value: unknown): unknown => JSON.parse(JSON.stringify(value, cut));
