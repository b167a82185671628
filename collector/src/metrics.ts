import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withinTime } from './withinTime.js';

type Labels = Record<string, string>;

/**
 * How `tagrelay serve --workers N` makes one value of its processes' values of a gauge (prom-client's cluster
 * aggregators): `max` for what each reads of the same thing (the store's queue) or for a state any may be in,
 * `min` where one process's 0 must show (the store cut off from it).
 */
export type Aggregator = 'max' | 'min';

/**
 * The collector's Prometheus metrics (prom-client), named as Prometheus asks (`_total`, `_seconds`,
 * `_bytes`), with the default process metrics. Every series a metric will have is created at zero when
 * it is declared (`zero`), so alerts work before the first failure.
 */
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A counter; `zero` lists the label sets that exist from the start. */
  counter(name: string, help: string, labelNames: string[] = [], zero: Labels[] = []): (labels?: Labels, by?: number) => void {
    const c = new Counter({ name, help, labelNames, registers: [this.registry] });
    for (const labels of labelNames.length ? zero : [{}]) c.inc(labels, 0);
    return (labels = {}, by = 1) => c.inc(labels, by);
  }

  /**
   * A gauge read when /metrics is scraped. One that cannot be read within `READ_TIMEOUT_MS` (the store
   * does not answer) has no series in that scrape; the others are still served, in time for the scraper.
   * `aggregator`: how the values of `--workers` processes make one.
   */
  gauge(
    name: string,
    help: string,
    labelNames: string[],
    aggregator: Aggregator,
    read: () => Promise<[Labels, number][]> | [Labels, number][],
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      aggregator,
      registers: [this.registry],
      async collect() {
        this.reset();
        let values: [Labels, number][];
        try {
          values = await withinTime(Promise.resolve().then(read), READ_TIMEOUT_MS);
        } catch {
          return;
        }
        for (const [labels, value] of values) this.set(labels, value);
      },
    });
  }

  /** A histogram; `zero` lists the label sets that exist from the start. */
  histogram(name: string, help: string, buckets: number[], labelNames: string[] = [], zero: Labels[] = []): (value: number, labels?: Labels) => void {
    const h = new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
    for (const labels of labelNames.length ? zero : [{}]) h.zero(labels);
    return (value, labels = {}) => h.observe(labels, value);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** How long a scrape waits for a gauge read from the store, ms. */
const READ_TIMEOUT_MS = 2000;

/** Every combination of the values of each label, as label sets. */
export function combinations(values: Record<string, readonly string[]>): Labels[] {
  return Object.entries(values).reduce<Labels[]>(
    (sets, [name, options]) => sets.flatMap((set) => options.map((v) => ({ ...set, [name]: v }))),
    [{}],
  );
}
