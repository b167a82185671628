/**
 * Splits `items` (in order) into batches whose sizes plus one separator byte each add up to at most
 * `maxBytes`. An item larger than `maxBytes` gets a batch of its own (callers refuse such items).
 * (No count limit is needed: an event is at least ~140 bytes, so 60 KB hold fewer than the
 * collector's 500 events a batch.)
 */
export const batches = <T>(items: T[], size: (t: T) => number, maxBytes: number): T[][] => {
  const out: T[][] = [];
  let bytes = maxBytes;
  for (const it of items) {
    const n = size(it) + 1;
    if ((bytes += n) > maxBytes) out.push([]), (bytes = n);
    out[out.length - 1]!.push(it);
  }
  return out;
};
