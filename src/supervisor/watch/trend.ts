// Pure: how fast the heap's floor rises and when it will reach the limit. A heap is a sawtooth (allocate,
// collect, allocate); what leaks is what survives collection. The true floor is the heap right after each major
// GC, which the probe reports: the trend is fitted on those points, trusted by the fit and the number of GCs
// (not by how much of the window has passed), and only while the floor is still rising (a cache that filled and
// stays full is no leak). Without enough of them (a process seen through /proc and occasional readings), the
// regression runs over the minimum of each slice of the window instead, and a sawtooth that returns to its floor
// has no trend either way.
import { linearFit } from '../../common/fit.js';
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


/** Heap readings of a process, and its floors: the heap after each major GC, as its probe reported them. */
export interface HeapHistory {
  readings: readonly Point[];
  floors?: readonly Point[];
}

/** Post-GC floors needed before they are used at all, and for full confidence. */
const MIN_FLOORS = 4;
const FULL_FLOORS = 8;
/**
 * Floors spanning less than this may be one tooth of a sawtooth (a batch that is freed every few seconds) as
 * much as a leak: confidence grows with the span up to it, or up to the trend window when that is shorter (the
 * floors can span no more, and a user who set it asked to be told that soon), or up to half the time left when
 * the OOM is nearer.
 */
const FULL_SPAN_MS = 30_000;

/**
 * The leak trend: from the post-GC floors when there are enough in the window, else from the readings. It depends
 * on nothing but its arguments (the window ends at the last point, not at the clock).
 */
export function leakTrend(history: HeapHistory, limit: number, opts: TrendOptions): Trend | undefined {
  const last = history.floors?.at(-1);
  const floors = last ? history.floors!.filter((p) => p.t >= last.t - opts.windowMs) : [];
  return floors.length >= MIN_FLOORS ? floorTrend(floors, limit, opts.windowMs) : heapTrend(history.readings, limit, opts);
}

/**
 * A line through the post-GC floors of a window of `windowMs`. Its confidence is the fit's r² scaled by how many
 * GCs there are and how long they span (FULL_SPAN_MS), and is halved when the later half of the floors rises at
 * less than half the overall rate: a plateau.
 */
export function floorTrend(floors: readonly Point[], limit: number, windowMs: number): Trend | undefined {
  const last = floors.at(-1);
  if (!last || floors.length < MIN_FLOORS || last.t <= floors[0]!.t) return undefined;
  const fit = linearFit(
    floors.map((p) => p.t),
    floors.map((p) => p.v),
  );
  const later = floors.slice(Math.floor(floors.length / 2));
  const recent = later.length >= 2 && later.at(-1)!.t > later[0]!.t ? linearFit(later.map((p) => p.t), later.map((p) => p.v)).slope : fit.slope;
  const plateau = fit.slope > 0 && recent < fit.slope / 2;
  const mbPerMin = (fit.slope * 60_000) / MB;
  const floorNow = fit.intercept + fit.slope * last.t;
  const oomInMin = fit.slope > 0 ? Math.max(0, (limit - floorNow) / fit.slope / 60_000) : undefined;
  const spanNeededMs = Math.min(FULL_SPAN_MS, windowMs, oomInMin === undefined ? FULL_SPAN_MS : (oomInMin * 60_000) / 2);
  const span = spanNeededMs > 0 ? Math.min(1, (last.t - floors[0]!.t) / spanNeededMs) : 1;
  const confidence = fit.r2 * Math.min(1, (floors.length - 1) / (FULL_FLOORS - 1)) * span * (plateau ? 0.5 : 1);
  return { mbPerMin, oomInMin, confidence, floorMb: floorNow / MB };
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
  const fit = linearFit(
    minima.map((p) => p.t),
    minima.map((p) => p.v),
  );
  const coverage = Math.min(1, spanMs / opts.windowMs);
  const mbPerMin = (fit.slope * 60_000) / MB;
  const floorNow = fit.intercept + fit.slope * last.t;
  const oomInMin = fit.slope > 0 ? Math.max(0, (limit - floorNow) / fit.slope / 60_000) : undefined;
  return { mbPerMin, oomInMin, confidence: fit.r2 * coverage, floorMb: floorNow / MB };
}
