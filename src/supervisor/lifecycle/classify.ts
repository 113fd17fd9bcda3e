// Pure: how a run ended, and what exit code the supervisor reports for it.
import { constants } from 'node:os';

export type ExitReason = 'clean' | 'crash' | 'oom' | 'killed' | 'stopped' | 'limit';

export interface RunEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The supervisor itself asked the run to stop (user signal, control request, shutdown). */
  stoppedBySupervisor: boolean;
  /** A memory rule terminated the run. */
  limitExceeded: boolean;
  /** A fatal-error report of a process of this run names the JavaScript heap. */
  oomReport: boolean;
  /** The last heap reading of the run was close to its old-space limit. */
  heapNearLimit: boolean;
}

const SIGABRT_EXIT = 128 + constants.signals.SIGABRT;

export function classifyExit(end: RunEnd): ExitReason {
  if (end.stoppedBySupervisor) return 'stopped';
  if (end.limitExceeded) return 'limit';
  if (end.code === 0) return 'clean';
  // A shell between us and node turns node's SIGABRT into exit code 134.
  const aborted = end.signal === 'SIGABRT' || end.code === SIGABRT_EXIT;
  if (end.oomReport || (aborted && end.heapNearLimit)) return 'oom';
  return end.signal ? 'killed' : 'crash';
}

/** The exit code a shell would report for the agent: its own code, or 128 + signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}
