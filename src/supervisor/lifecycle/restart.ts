// Pure restart policy: whether a run that ended is followed by another, after how long, and when a crash
// loop is given up on. Time and randomness come in as arguments so every decision is reproducible.
import type { ExitReason } from '../journal/run-line.js';
import type { Config, RestartMode } from '../../config/config.js';

export type RestartPolicy = Pick<Config, 'restart' | 'backoffMs' | 'backoffMaxMs' | 'minUptimeMs' | 'maxRestarts' | 'restartWindowMs'>;

export interface RestartState {
  /** Consecutive quick failures: the exponent of the backoff. */
  attempt: number;
  /** Times of the restarts still inside the crash-loop window, oldest first. */
  restarts: number[];
  /** Some run already lasted --min-uptime: the command works, so a failure is worth another run. */
  everStable: boolean;
}

export const initialRestartState: RestartState = { attempt: 0, restarts: [], everStable: false };

export interface EndedRun {
  reason: ExitReason;
  signal: NodeJS.Signals | null;
  /** The exit code, when the agent exited rather than died of a signal. */
  code?: number | null;
  uptimeMs: number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; state: RestartState }
  | { action: 'exit'; state: RestartState }
  | { action: 'give-up'; message: string; state: RestartState };

// Signals people and service managers send to end a program: a death by one of them is a request, not a fault,
// and so is the exit code a program that handles one reports (128 + n, as after Ctrl-C: 130).
const STOP_SIGNALS: ReadonlySet<string> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);
const STOP_CODES: ReadonlySet<number> = new Set([129, 130, 131, 143]);

const askedToStop = (run: EndedRun) => (run.signal !== null && STOP_SIGNALS.has(run.signal)) || (run.code != null && STOP_CODES.has(run.code));

/** Memory ended the run: its heap, a memory rule, or the kernel's OOM killer. */
export const MEMORY_REASONS: ReadonlySet<ExitReason> = new Set(['oom', 'limit', 'oom-kill']);

/**
 * on-oom (the default) runs the agent again only when memory ended it: heap exhaustion, a memory rule or the
 * kernel's OOM killer. An
 * ordinary failure is not a reason to run a command again: it may have side effects (an `init` that asks to
 * overwrite, a prompt shown again).
 */
export function wantsRestart(mode: RestartMode, run: EndedRun): boolean {
  if (run.reason === 'stopped' || mode === 'never') return false;
  if (MEMORY_REASONS.has(run.reason)) return true;
  if (mode === 'on-oom') return false;
  if (askedToStop(run)) return false;
  if (mode === 'always') return true;
  return run.reason === 'crash' || run.reason === 'killed';
}

/** Equal jitter: half the delay is fixed, half random, so restarts of many supervisors spread out. */
export function backoffDelay(attempt: number, policy: RestartPolicy, random: number): number {
  const full = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (full / 2) * random);
}

export function decideRestart(
  state: RestartState,
  run: EndedRun,
  policy: RestartPolicy,
  now: number,
  random: number,
): RestartDecision {
  const recent = state.restarts.filter((t) => now - t < policy.restartWindowMs);
  const stable = run.uptimeMs >= policy.minUptimeMs;
  const kept = { ...state, restarts: recent, everStable: state.everStable || stable };
  if (!wantsRestart(policy.restart, run)) return { action: 'exit', state: kept };
  const memory = MEMORY_REASONS.has(run.reason);
  if (!memory && !stable && !state.everStable) {
    return {
      action: 'give-up',
      message: `not restarting: the first run failed after ${(run.uptimeMs / 1000).toFixed(1)} s, before --min-uptime (${policy.minUptimeMs / 1000} s) (last run ended: ${run.reason})`,
      state: kept,
    };
  }
  if (recent.length >= policy.maxRestarts) {
    return {
      action: 'give-up',
      message: `giving up: ${recent.length} restarts within ${Math.round(policy.restartWindowMs / 1000)} s (--max-restarts ${policy.maxRestarts}), last run ended: ${run.reason}`,
      state: kept,
    };
  }
  const attempt = stable ? 0 : state.attempt;
  return {
    action: 'restart',
    delayMs: backoffDelay(attempt, policy, random),
    state: { attempt: attempt + 1, restarts: [...recent, now], everStable: kept.everStable },
  };
}
