// Growth across runs: does a role's peak keep rising from one run to the next (a leak that survives restarts,
// in a cache on disk, in a session that grows) or does it level off?
import { linearFit } from '../common/fit.js';

export interface RunPeak {
  /** When the run (or the role's last process in it) ended, ms since the epoch: the runs' order. */
  readonly t: number;
  readonly mb: number;
}

export interface Growth {
  readonly metric: 'heap' | 'rss';
  readonly runs: number;
  /** Least-squares slope of the per-run peak over the run index. */
  readonly slopeMbPerRun: number;
  readonly r2: number;
  /** The same slope over the later half of the runs: near zero once the peak has levelled off. */
  readonly recentSlopeMbPerRun: number;
  readonly firstMb: number;
  readonly lastMb: number;
  readonly leak: boolean;
  readonly verdict: string;
}

/**
 * "Leak across runs": at least MIN_RUNS runs; a positive slope that the line explains well (r² ≥ MIN_R2); the
 * last peak above the first by at least MIN_RISE_FRACTION of it and MIN_RISE_MB; and still rising in the later
 * half of the runs (its slope at least RECENT_FRACTION of the whole one), so that a peak which climbed and then
 * levelled off, a cache filling up, is not called a leak.
 */
export const LEAK_RULE = { MIN_RUNS: 5, MIN_R2: 0.6, MIN_RISE_FRACTION: 0.1, MIN_RISE_MB: 5, RECENT_FRACTION: 0.5 } as const;

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

function slopeOver(peaks: readonly number[], from: number): number {
  const ys = peaks.slice(from);
  return linearFit(
    ys.map((_, i) => from + i),
    ys,
  ).slope;
}

/** The growth of per-run peaks, oldest run first; undefined for fewer than two runs (no slope to speak of). */
export function acrossRuns(metric: Growth['metric'], runs: readonly RunPeak[]): Growth | undefined {
  if (runs.length < 2) return undefined;
  const peaks = [...runs].sort((a, b) => a.t - b.t).map((r) => r.mb);
  const fit = linearFit(
    peaks.map((_, i) => i),
    peaks,
  );
  const recent = slopeOver(peaks, Math.max(0, Math.min(Math.floor(peaks.length / 2), peaks.length - 3)));
  const first = peaks[0]!;
  const last = peaks.at(-1)!;
  const rise = last - first;
  const rising = fit.slope > 0 && fit.r2 >= LEAK_RULE.MIN_R2;
  const risenEnough = rise >= Math.max(LEAK_RULE.MIN_RISE_MB, LEAK_RULE.MIN_RISE_FRACTION * first);
  const stillRising = recent >= LEAK_RULE.RECENT_FRACTION * fit.slope;
  const leak = peaks.length >= LEAK_RULE.MIN_RUNS && rising && risenEnough && stillRising;
  const trend = `${fit.slope >= 0 ? '+' : ''}${round(fit.slope, 1)} MB per run over ${peaks.length} runs (r² ${round(fit.r2)})`;
  let verdict: string;
  if (leak) verdict = `leak across runs: peak ${metric} ${trend}, ${round(first, 1)} → ${round(last, 1)} MB`;
  else if (peaks.length < LEAK_RULE.MIN_RUNS) verdict = `${trend}; too few runs to judge (${peaks.length} < ${LEAK_RULE.MIN_RUNS})`;
  else if (rising && risenEnough && !stillRising) verdict = `${trend}, then levelled off (later runs ${recent >= 0 ? '+' : ''}${round(recent, 1)} MB per run)`;
  else verdict = `no growth across runs: ${trend}`;
  return {
    metric,
    runs: peaks.length,
    slopeMbPerRun: round(fit.slope, 3),
    r2: round(fit.r2, 3),
    recentSlopeMbPerRun: round(recent, 3),
    firstMb: first,
    lastMb: last,
    leak,
    verdict,
  };
}
