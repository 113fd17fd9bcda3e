// Pure: how a run ended, what exit code the supervisor reports for it, and which memory ended a process of it.
import { constants } from 'node:os';

export type ExitReason = 'clean' | 'crash' | 'oom' | 'killed' | 'stopped' | 'limit' | 'oom-kill';

export interface RunEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The supervisor itself asked the run to stop (user signal, control request, shutdown). */
  stoppedBySupervisor: boolean;
  /** A memory rule terminated the run. */
  limitExceeded: boolean;
  /** A fatal-error report of a process of this run names the JavaScript heap. */
  oomReport: boolean;
  /** A worker thread of the agent died of its heap with nothing handling the error, which ends the agent. */
  workerOom?: boolean;
  /** The last heap reading of the run was close to its old-space limit. */
  heapNearLimit: boolean;
  /** The OOM-kill counter of the supervisor's memory cgroup rose during the run: the kernel killed one of it. */
  oomKilled?: boolean;
}

const SIGABRT_EXIT = 128 + constants.signals.SIGABRT;
const SIGKILL_EXIT = 128 + constants.signals.SIGKILL;

export function classifyExit(end: RunEnd): ExitReason {
  if (end.stoppedBySupervisor) return 'stopped';
  if (end.limitExceeded) return 'limit';
  if (end.code === 0) return 'clean';
  // A shell between us and node turns node's SIGABRT into exit code 134.
  const aborted = end.signal === 'SIGABRT' || end.code === SIGABRT_EXIT;
  if (end.oomReport || end.workerOom || (aborted && end.heapNearLimit)) return 'oom';
  // The kernel's OOM killer sends SIGKILL; a shell between us and the agent turns it into 137.
  if (end.oomKilled && (end.signal === 'SIGKILL' || end.code === SIGKILL_EXIT)) return 'oom-kill';
  return end.signal ? 'killed' : 'crash';
}

/** Memory that ended one process of the run: its heap (oom), a memory rule (limit), the kernel (oom-kill). */
export type MemberCause = 'oom' | 'limit' | 'oom-kill';

export interface MemberEnd {
  /** The last signal a memory rule sent it. */
  limitSignal?: NodeJS.Signals;
  /** A fatal-error report of this pid naming the JavaScript heap. */
  oomReport?: string;
  /** The cgroup's OOM-kill counter rose since the last process ended. */
  oomKilled?: boolean;
}

export interface MemberFate {
  cause: MemberCause;
  /** The signal it died of: ours, V8's abort after the FATAL line, the kernel's SIGKILL. */
  signal: NodeJS.Signals;
  report?: string;
}

/** Why memory ended a process, if it did; the supervisor's own kill first, then the evidence of the process. */
export function memberFate(end: MemberEnd): MemberFate | undefined {
  if (end.limitSignal) return { cause: 'limit', signal: end.limitSignal };
  if (end.oomReport) return { cause: 'oom', signal: 'SIGABRT', report: end.oomReport };
  if (end.oomKilled) return { cause: 'oom-kill', signal: 'SIGKILL' };
  return undefined;
}

/** The exit code a shell would report for the agent: its own code, or 128 + signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}
