// The statistics of a report: percentiles of peaks and straight-line fits of peaks over runs.

/**
 * Counts per value at a fixed resolution, so percentiles of any number of observations take memory bounded by
 * the range of values (peaks in MB), not by their count. Percentiles are nearest-rank: always an observed value.
 */
export class Histogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private top = -Infinity;

  /** `resolution` is the smallest difference kept: 0.1 keeps MB to one decimal, as the journals write them. */
  constructor(private readonly resolution = 0.1) {}

  add(value: number): void {
    const key = Math.round(value / this.resolution);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
    this.top = Math.max(this.top, key);
  }

  get count(): number {
    return this.total;
  }

  /** The smallest observed value with at least `p` percent of the observations at or below it. */
  percentile(p: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (const key of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(key)!;
      if (seen >= rank) return this.value(key);
    }
    return undefined;
  }

  get max(): number | undefined {
    return this.total === 0 ? undefined : this.value(this.top);
  }

  private value(key: number): number {
    return Math.round(key * this.resolution * 1000) / 1000;
  }
}

export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function percentiles(h: Histogram): Percentiles | null {
  if (h.count === 0) return null;
  return { n: h.count, p50: h.percentile(50)!, p95: h.percentile(95)!, p99: h.percentile(99)!, max: h.max! };
}
