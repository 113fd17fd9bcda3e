// `cfn-supervise [options] -- <command>`: runs the supervisor and ends the way the agent ended, so that a calling
// shell script or loop sees what it would see without the supervisor.
import path from 'node:path';
import { constants } from 'node:os';
import type { ResolvedConfig } from '../config/config.js';
import { STATE_DIR_ENV } from '../supervisor/lifecycle/launch.js';
import type { Outcome } from '../supervisor/lifecycle/runner.js';
import { Supervision } from '../index.js';
import { libc } from '../platform/libc.js';
import { notice } from './output.js';

// Node keeps these for itself (SIGUSR1 opens its inspector, SIGPIPE is ignored): raising them would not end us.
const NOT_RAISABLE: ReadonlySet<string> = new Set(['SIGUSR1', 'SIGPIPE', 'SIGKILL', 'SIGSTOP']);
const CORE_SIGNALS: ReadonlySet<string> = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGQUIT', 'SIGSYS', 'SIGTRAP']);

/**
 * A supervisor started inside a supervised tree (an agent that runs cfn-supervise itself) gets a state dir of its
 * own inside the outer one's, unless it was given one: two supervisors cannot share a state dir.
 */
export function nestedStateDir(resolved: ResolvedConfig, env: NodeJS.ProcessEnv, pid: number): string {
  const outer = env[STATE_DIR_ENV];
  const { config, sources } = resolved;
  if (!outer || sources.stateDir.source !== 'default' || path.resolve(outer) !== config.stateDir) return config.stateDir;
  return path.join(config.stateDir, 'nested', String(pid));
}

export async function superviseCommand(resolved: ResolvedConfig, argv: string[]): Promise<number> {
  const stateDir = nestedStateDir(resolved, process.env, process.pid);
  const config = { ...resolved.config, stateDir, ...(stateDir !== resolved.config.stateDir ? { capturesDir: path.join(stateDir, 'captures') } : {}) };
  // Everything the supervisor creates is private; the agent gets the user's umask back (see launch.ts).
  const userUmask = process.umask(0o077);
  const interactive = process.stderr.isTTY === true;
  // Over an interactive agent (a TUI, a prompt) only what the user must see now is printed; the rest is in
  // supervisor.log.
  const show = config.quiet ? () => {} : (message: string, important: boolean, detail?: string) => (important || !interactive ? notice(message, detail) : undefined);
  const supervision = new Supervision({ ...resolved, config }, argv, { ownsProcess: true, userUmask }, show);
  return endAs(await supervision.done);
}

/**
 * Dies of the agent's signal after cleaning up, as shells and `timeout` do: a `for` loop in a script stops on
 * Ctrl-C only if the command it ran died of SIGINT. PID 1 of a container has no default actions: it exits 128+n.
 */
function endAs(outcome: Outcome): number {
  const { signal } = outcome;
  if (!signal || process.pid === 1 || NOT_RAISABLE.has(signal)) return outcome.code;
  if (CORE_SIGNALS.has(signal)) libc().noCoreDump();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  // Still here: the signal's default action is to ignore it (SIGWINCH, SIGCHLD…).
  return 128 + (constants.signals[signal] ?? 0);
}
