// Pure restart policy: whether a run that ended is followed by another, after how long, and when a crash
// loop is given up on. Time and randomness come in as arguments so every decision is reproducible.
import type { ExitReason } from './classify.js';
import type { RestartMode } from '../../config/config.js';

export interface RestartPolicy {
  mode: RestartMode;
  backoffMs: number;
  backoffMaxMs: number;
  minUptimeMs: number;
  maxRestarts: number;
  windowMs: number;
}

export interface RestartState {
  /** Consecutive quick failures: the exponent of the backoff. */
  attempt: number;
  /** Times of the restarts still inside the crash-loop window, oldest first. */
  restarts: number[];
}

export const initialRestartState: RestartState = { attempt: 0, restarts: [] };

export interface EndedRun {
  reason: ExitReason;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; state: RestartState }
  | { action: 'exit'; state: RestartState }
  | { action: 'give-up'; message: string; state: RestartState };

// Signals people and service managers send to end a program: a death by one of them is a request, not a fault.
const STOP_SIGNALS: ReadonlySet<string> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

export function wantsRestart(mode: RestartMode, run: EndedRun): boolean {
  if (run.reason === 'stopped' || mode === 'never') return false;
  if (mode === 'always') return true;
  if (mode === 'on-oom') return run.reason === 'oom';
  switch (run.reason) {
    case 'crash':
    case 'oom':
    case 'limit':
      return true;
    case 'killed':
      return !(run.signal && STOP_SIGNALS.has(run.signal));
    default:
      return false;
  }
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
  const recent = state.restarts.filter((t) => now - t < policy.windowMs);
  if (!wantsRestart(policy.mode, run)) return { action: 'exit', state: { ...state, restarts: recent } };
  if (recent.length >= policy.maxRestarts) {
    return {
      action: 'give-up',
      message: `giving up: ${recent.length} restarts within ${Math.round(policy.windowMs / 1000)} s (--max-restarts ${policy.maxRestarts}), last run ended: ${run.reason}`,
      state: { ...state, restarts: recent },
    };
  }
  const attempt = run.uptimeMs >= policy.minUptimeMs ? 0 : state.attempt;
  return {
    action: 'restart',
    delayMs: backoffDelay(attempt, policy, random),
    state: { attempt: attempt + 1, restarts: [...recent, now] },
  };
}
