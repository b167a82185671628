/**
 * Splits `items` (in order) into batches whose sizes plus one separator byte each add up to at most
 * `maxBytes`, lazily: sizes are measured only for the batches taken. An item larger than
 * `maxBytes` gets a batch of its own (the collector refuses it). (No count limit is needed: an
 * event is at least ~140 bytes, so 60 KB hold fewer than the collector's 500 events a batch.)
 */
export function* batches<T>(items: T[], size: (item: T) => number, maxBytes: number): Generator<T[], void> {
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item) + 1;
    if (batch.length && bytes + n > maxBytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += n;
  }
  if (batch.length) yield batch;
}
