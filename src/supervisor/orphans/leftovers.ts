// What is left of a run once the agent itself is gone: the rest of its tree, ended with it (--orphans kill,
// said out loud) or released (--orphans keep).
import type { Config } from '../../config/config.js';
import { redactArgv } from '../../common/redact.js';
import type { Notice } from '../act/executor.js';
import type { Journal } from '../journal/journal.js';
import { readArgv, type ProcStat } from '../../platform/index.js';
import type { ProcessTree } from '../proc/tree.js';

export interface LeftoverDeps {
  config: Config;
  tree: ProcessTree;
  journal: Journal;
  notice: Notice;
}

/**
 * Ends the rest of the run's tree, or releases it with --orphans keep; returns what is still alive. A run that a
 * memory rule or a restart is ending (`run.ending`) has its whole tree ended, quietly: that was asked for.
 */
export async function endLeftovers(
  run: { readonly ending?: unknown },
  { config, tree, journal, notice }: LeftoverDeps,
  stop: { signal: NodeJS.Signals; deadline: number } | undefined,
  hurry: AbortSignal,
): Promise<ProcStat[]> {
  // Stopping: the stop signal, within what is left of its grace.
  if (stop) return tree.terminate(stop.signal, stop.deadline - Date.now(), hurry);
  const left = tree.scan();
  if (config.orphans === 'keep' && !run.ending) {
    tree.release(left);
    if (left.length > 0) journal.log.info({ processes: describe(left) }, "leaving the run's other processes running (--orphans keep)");
    return left;
  }
  if (left.length > 0 && !run.ending) {
    // A daemon the agent started ("background daemon started") ends with the run: say so, never silently.
    journal.log.info({ processes: describe(left) }, 'ending what the run left behind (--orphans kill)');
    const names = describe(left).map((p) => `${p.pid} (${p.argv.join(' ').slice(0, 80)})`);
    notice(`the agent left ${left.length} process${left.length === 1 ? '' : 'es'} running; ending ${names.join(', ')} (--orphans keep leaves them)`, true);
  }
  return tree.terminate('SIGTERM', config.killTimeoutMs, hurry);
}

/** pid and argv of each process, for the log and the notice (argv from /proc, secrets redacted). */
function describe(processes: readonly ProcStat[]): { pid: number; argv: string[] }[] {
  return processes.map((p) => ({ pid: p.pid, argv: redactArgv(readArgv(p.pid) ?? [p.comm]) }));
}
