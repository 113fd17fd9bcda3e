import { Piscina } from 'piscina';
import type { AnalysisOutcome, AnalysisTask } from './worker.js';

export type AnalysisPool = Piscina<AnalysisTask, AnalysisOutcome>;

export interface AnalysisPoolOptions {
  maxThreads?: number;
  maxQueue?: number;
  idleTimeoutMs?: number;
}

/*
 * One thread by default: analysing a large snapshot holds about its file size in memory, and the
 * supervisor runs beside the very agent whose memory is short; two analyses at once would double
 * that for little gain on the small machines this runs on.
 */
const DEFAULTS: Required<AnalysisPoolOptions> = {
  maxThreads: 1,
  maxQueue: 16,
  idleTimeoutMs: 10_000,
};

export function createAnalysisPool(options: AnalysisPoolOptions = {}): AnalysisPool {
  const o = { ...DEFAULTS, ...options };
  return new Piscina<AnalysisTask, AnalysisOutcome>({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: 0,
    maxThreads: o.maxThreads,
    maxQueue: o.maxQueue,
    // Threads exit when idle, so a supervisor that analysed one capture does not keep its memory.
    idleTimeout: o.idleTimeoutMs,
  });
}

let shared: AnalysisPool | undefined;

/** The pool the supervisor and the CLI share, created on first use. */
export function sharedAnalysisPool(): AnalysisPool {
  shared ??= createAnalysisPool();
  return shared;
}

export async function closeSharedAnalysisPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
