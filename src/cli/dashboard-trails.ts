// Pure: the last minutes of each process's RSS, heap and external memory, as the dashboard's sparklines draw
// them. Bounded: TRAIL samples per series, and only the processes of the latest poll (a pid that ended goes).
import type { ProcessView } from '../supervisor/control/protocol.js';
import { sparkPoints } from '../report/svg.js';

export const TRAIL = 240;
/** Points drawn per sparkline: the highest of each slice, peaks being what a reader looks for. */
export const SPARK_POINTS = 60;
export const SPARK_SIZE = { width: 120, height: 22 } as const;

export const SERIES = ['rss', 'heap', 'external'] as const;
export type Series = (typeof SERIES)[number];
type Trail = Record<Series, number[]>;

const valueOf = (p: ProcessView, s: Series): number | undefined => (s === 'rss' ? p.rss_mb : s === 'heap' ? p.heap_used_mb : p.external_mb);

/** The highest value of each of at most `n` consecutive slices. */
export function peaks(values: readonly number[], n: number): number[] {
  if (values.length <= n) return [...values];
  const size = values.length / n;
  return Array.from({ length: n }, (_, i) => Math.max(...values.slice(Math.floor(i * size), Math.floor((i + 1) * size))));
}

export class Trails {
  private readonly trails = new Map<number, Trail>();

  /** One poll's processes: their values appended, the processes no longer there forgotten. */
  record(processes: readonly ProcessView[]): void {
    const seen = new Set<number>();
    for (const p of processes) {
      seen.add(p.pid);
      let trail = this.trails.get(p.pid);
      if (!trail) {
        // A process first seen brings the RSS history the supervisor already holds.
        trail = { rss: p.history.rss_mb.slice(0, -1).slice(-TRAIL), heap: [], external: [] };
        this.trails.set(p.pid, trail);
      }
      for (const s of SERIES) {
        const v = valueOf(p, s);
        if (v === undefined) continue;
        trail[s].push(v);
        if (trail[s].length > TRAIL) trail[s].splice(0, trail[s].length - TRAIL);
      }
    }
    for (const pid of this.trails.keys()) if (!seen.has(pid)) this.trails.delete(pid);
  }

  /** Each series of `pid` as a sparkline's points attribute ('' with nothing recorded). */
  sparks(pid: number): Record<Series, string> {
    const trail = this.trails.get(pid);
    const draw = (s: Series) => sparkPoints(peaks(trail?.[s] ?? [], SPARK_POINTS), SPARK_SIZE.width, SPARK_SIZE.height);
    return { rss: draw('rss'), heap: draw('heap'), external: draw('external') };
  }

  get size(): number {
    return this.trails.size;
  }
}
