/** A small Prometheus registry: counters, gauges read on scrape, and one kind of histogram. */
type Labels = Record<string, string>;

function key(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => Promise<[Labels, number][]> }>();
  private readonly histograms = new Map<
    string,
    { help: string; buckets: number[]; counts: number[]; sum: number; n: number }
  >();

  counter(name: string, help: string): (labels?: Labels, by?: number) => void {
    const c = { help, values: new Map<string, number>() };
    this.counters.set(name, c);
    return (labels = {}, by = 1) => {
      const k = key(labels);
      c.values.set(k, (c.values.get(k) ?? 0) + by);
    };
  }

  gauge(name: string, help: string, read: () => Promise<[Labels, number][]>): void {
    this.gauges.set(name, { help, read });
  }

  histogram(name: string, help: string, buckets: number[]): (value: number) => void {
    const h = { help, buckets, counts: buckets.map(() => 0), sum: 0, n: 0 };
    this.histograms.set(name, h);
    return (value) => {
      h.sum += value;
      h.n++;
      buckets.forEach((b, i) => {
        if (value <= b) h.counts[i]!++;
      });
    };
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k} ${v}`);
    }
    for (const [name, g] of this.gauges) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`);
      for (const [labels, v] of await g.read()) out.push(`${name}${key(labels)} ${v}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      h.buckets.forEach((b, i) => out.push(`${name}_bucket{le="${b}"} ${h.counts[i]}`));
      out.push(`${name}_bucket{le="+Inf"} ${h.n}`, `${name}_sum ${h.sum}`, `${name}_count ${h.n}`);
    }
    return out.join('\n') + '\n';
  }
}
