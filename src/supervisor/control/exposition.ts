// The Prometheus text exposition format (0.0.4) for the few gauges, counters and the one histogram /metrics
// serves. prom-client did this before; loading it (OpenTelemetry's API among its files) took time on the same
// cores as the agent's own start, and heap (benchmarks/results/design-figures.md), for what is a map of numbers
// and a text format.

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels<L extends string> = Partial<Record<L, string>>;

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string) => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(pairs: [string, string][]): string {
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

interface Family {
  render(): string[];
}

/** Metric families in the order they were made; render() is one scrape. */
export class Registry {
  private readonly families: Family[] = [];

  add<F extends Family>(family: F): F {
    this.families.push(family);
    return family;
  }

  render(): string {
    return `${this.families.flatMap((f) => f.render()).join('\n')}\n`;
  }
}

/** A gauge or counter: one value per label set, in the order the label sets first appeared. */
abstract class Labelled<L extends string> implements Family {
  private readonly values = new Map<string, { labels: [string, string][]; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'gauge' | 'counter',
    private readonly labelNames: readonly L[],
    /** Called at each scrape, before rendering: for values read then rather than fed. */
    private readonly collect?: () => number,
  ) {}

  private entry(labels: Labels<L>): { value: number } {
    // Fed every tick for every role: the key is built without arrays, the label pairs only for a new series.
    let key = '';
    for (const k of this.labelNames) key += `${labels[k] ?? ''}\u0000`;
    let entry = this.values.get(key);
    if (!entry) {
      const pairs = this.labelNames.flatMap((k): [string, string][] => (labels[k] === undefined ? [] : [[k, labels[k]]]));
      this.values.set(key, (entry = { labels: pairs, value: 0 }));
    }
    return entry;
  }

  protected add(labels: Labels<L>, by: number): void {
    this.entry(labels).value += by;
  }

  protected setValue(labels: Labels<L>, value: number): void {
    this.entry(labels).value = value;
  }

  reset(): void {
    this.values.clear();
  }

  render(): string[] {
    if (this.collect) {
      this.values.clear();
      this.setValue({}, this.collect());
    }
    // A family without labels has its one series from the start, at 0, as Prometheus clients do.
    if (this.labelNames.length === 0) this.entry({});
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${formatLabels(labels)} ${formatValue(value)}`);
    return lines;
  }
}

export class Gauge<L extends string = never> extends Labelled<L> {
  constructor(name: string, help: string, labelNames: readonly L[] = [], collect?: () => number) {
    super(name, help, 'gauge', labelNames, collect);
  }

  set(labels: Labels<L>, value: number): void {
    this.setValue(labels, value);
  }

  inc(labels: Labels<L>, by = 1): void {
    this.add(labels, by);
  }
}

export class Counter<L extends string = never> extends Labelled<L> {
  constructor(name: string, help: string, labelNames: readonly L[] = [], collect?: () => number) {
    super(name, help, 'counter', labelNames, collect);
  }

  /** `by` 0 makes the series exist, so that increase() sees its first real increment. */
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: a counter only goes up (got ${by})`);
    this.add(labels, by);
  }
}

/** A histogram without labels: cumulative buckets, sum and count. */
export class Histogram implements Family {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    const i = this.buckets.findIndex((upper) => value <= upper);
    if (i >= 0) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    let cumulative = 0;
    this.buckets.forEach((upper, i) => {
      cumulative += this.counts[i]!;
      lines.push(`${this.name}_bucket{le="${formatValue(upper)}"} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${formatValue(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}
