// Pure: is the memory outside the V8 heap growing? RSS minus the heap's total size is what a process holds
// besides its JS objects: Buffers and ArrayBuffers (their bytes are malloc'ed, not on the heap), native modules'
// memory, code mapped from files. A leak of Buffers grows it while the heap stays flat, so neither the heap rules
// nor the leak trend see it, and a sampling profile of the heap names nothing. Its slope over a short window, with
// a good fit and a real amount grown, tells such a leak from a process settling in.
import { linearFit } from '../../common/fit.js';
import { MB } from '../../common/units.js';
import type { Point } from './trend.js';

/** The window the slope is fitted over: off-heap leaks worth alerting on are fast (Buffers by the megabyte). */
export const OFFHEAP_WINDOW_MS = 60_000;
/** Less than this much of the window says nothing yet: a process starting up grows for a few seconds. */
export const OFFHEAP_MIN_SPAN_MS = 10_000;
const MIN_POINTS = 5;
/** Growth smaller than this over the window is no leak worth an alert, however steady. */
export const OFFHEAP_MIN_GROWTH_MB = 32;
/** A line must explain this share of the variance: a pool that fills and drains is no trend. */
const MIN_R2 = 0.8;

export interface OffHeapGrowth {
  mbPerMin: number;
  /** Steady growth (a good fit) of a real amount: a leak, not a pool filling and draining. */
  growing: boolean;
  /** How much it grew over the points' span, by the fitted line. */
  grewMb: number;
  /** The latest off-heap size: RSS − heap total. */
  offHeapMb: number;
}

// Every process is judged on every tick, and its points change only when its memory moved: the answer is kept per
// points array (the sampler hands out the same array until a point is added).
const answers = new WeakMap<readonly Point[], OffHeapGrowth | undefined>();

/** The slope of `points` (t, RSS − heap total) over the window ending at the last one; undefined before it says anything. */
export function offHeapGrowth(points: readonly Point[]): OffHeapGrowth | undefined {
  if (answers.has(points)) return answers.get(points);
  const answer = fitGrowth(points, OFFHEAP_WINDOW_MS);
  answers.set(points, answer);
  return answer;
}

function fitGrowth(points: readonly Point[], windowMs: number): OffHeapGrowth | undefined {
  const last = points.at(-1);
  if (!last) return undefined;
  const recent = points.filter((p) => p.t >= last.t - windowMs);
  const span = last.t - recent[0]!.t;
  if (recent.length < MIN_POINTS || span < OFFHEAP_MIN_SPAN_MS) return undefined;
  const fit = linearFit(
    recent.map((p) => p.t),
    recent.map((p) => p.v),
  );
  const grewMb = (fit.slope * span) / MB;
  return {
    mbPerMin: Math.round(((fit.slope * 60_000) / MB) * 10) / 10,
    growing: fit.r2 >= MIN_R2 && grewMb >= OFFHEAP_MIN_GROWTH_MB,
    grewMb: Math.round(grewMb),
    offHeapMb: Math.round(last.v / MB),
  };
}
