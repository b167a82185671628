/**
 * An event, visitor or tab id matching the collector's `^[A-Za-z0-9_.:-]{8,64}$` that sorts by when it was made:
 * the time in ms in base 36 (8 characters until 2059), then 128 random bits from `crypto.getRandomValues`
 * (there on http:// pages too, where `crypto.randomUUID` is not): four 32-bit numbers in decimal, each after a
 * dot (13 to 52 characters in all). Ids that sort by time keep the collector's id index adding where it added
 * last; random ones (UUIDs) change a page of it for each event, and cost SQLite's writer 6 times the CPU
 * once the store held half a million events (BENCHMARKS.md, twenty-first stop).
 */
export const uuid = (): string => Date.now().toString(36) + '.' + crypto.getRandomValues(new Uint32Array(4)).join('.');
