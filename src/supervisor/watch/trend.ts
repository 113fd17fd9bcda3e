// Pure: how fast the heap's floor rises and when it will reach the limit. A heap is a sawtooth (allocate,
// collect, allocate); what leaks is what survives collection, so the regression runs over the minimum of each
// slice of the window (the post-GC floor), not over raw readings, and a sawtooth that returns to its floor has
// no trend.
import { MB } from '../../common/units.js';

export interface Point {
  /** ms */
  t: number;
  /** bytes */
  v: number;
}

export interface Trend {
  /** Growth of the floor, MB per minute. */
  mbPerMin: number;
  /** Minutes until the floor reaches the limit at this rate; undefined when not growing. */
  oomInMin?: number;
  /** 0..1: how well a line fits the floor, times how much of the window the points cover. */
  confidence: number;
  floorMb: number;
}

export interface TrendOptions {
  windowMs: number;
  /** Slices of the window whose minima form the floor. */
  slices?: number;
  /** Minimum points before any trend is claimed. */
  minPoints?: number;
}

function regression(xs: number[], ys: number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  // A perfectly flat floor explains itself fully but shows no growth: r2 1 with slope 0 is harmless.
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2 };
}

/** Points must be in time order. `limit` in bytes (the old-space limit, or an RSS limit). */
export function heapTrend(points: readonly Point[], limit: number, opts: TrendOptions): Trend | undefined {
  const minPoints = opts.minPoints ?? 8;
  const last = points.at(-1);
  if (!last) return undefined;
  const from = last.t - opts.windowMs;
  const inWindow = points.filter((p) => p.t >= from);
  if (inWindow.length < minPoints) return undefined;
  const first = inWindow[0]!;
  const spanMs = last.t - first.t;
  if (spanMs <= 0) return undefined;
  // Slice what the points cover, so a young history still yields a (low-confidence) trend.
  const slices = Math.max(3, Math.min(opts.slices ?? 8, Math.floor(inWindow.length / 2)));
  const sliceMs = spanMs / slices;
  const floor = new Map<number, Point>();
  for (const p of inWindow) {
    const k = Math.min(slices - 1, Math.floor((p.t - first.t) / sliceMs));
    const cur = floor.get(k);
    if (!cur || p.v < cur.v) floor.set(k, p);
  }
  if (floor.size < 3) return undefined;
  const minima = [...floor.values()].sort((a, b) => a.t - b.t);
  const fit = regression(
    minima.map((p) => p.t),
    minima.map((p) => p.v),
  );
  const coverage = Math.min(1, spanMs / opts.windowMs);
  const mbPerMin = (fit.slope * 60_000) / MB;
  const floorNow = fit.intercept + fit.slope * last.t;
  const oomInMin = fit.slope > 0 ? Math.max(0, (limit - floorNow) / fit.slope / 60_000) : undefined;
  return { mbPerMin, oomInMin, confidence: fit.r2 * coverage, floorMb: floorNow / MB };
}
