// How soon a heap over the pressure fraction is read again. The tick's interval suits a heap that holds still; one
// that grows fast can cross a level and die between two ticks (20 MB/s takes a 256 MB heap from critical to
// its end in under two seconds). Reading again as soon as an answer came kept a core busy for as long as a heap
// stayed high, however still it held; this reads as often as its growth asks, within bounds.
import type { Point } from './trend.js';

/**
 * The share of its limit a heap may grow by between two readings. Levels lie 10 to 15 points apart, but a worker
 * thread's isolate dies a few points past critical (node ends it as V8 nears its limit, at about 88%).
 */
export const READ_STEP_OF_LIMIT = 0.02;
/** The quickest a heap is read again: about a round trip to a busy agent and a decision. */
export const MIN_READ_DELAY_MS = 100;

/**
 * Pure: the delay before the next reading of a heap whose last two readings were `prev` and `last`, or undefined
 * when the interval's tick is soon enough (it does not grow, or not fast enough to matter before then).
 */
export function nextReadDelay(prev: Point | undefined, last: Point, limit: number, intervalMs: number): number | undefined {
  if (!prev || last.t <= prev.t || limit <= 0) return undefined;
  const bytesPerMs = (last.v - prev.v) / (last.t - prev.t);
  if (bytesPerMs <= 0) return undefined;
  const delay = (READ_STEP_OF_LIMIT * limit) / bytesPerMs;
  return delay >= intervalMs ? undefined : Math.max(MIN_READ_DELAY_MS, Math.round(delay));
}
