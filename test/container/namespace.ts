// The supervisor as PID 1 of a new PID namespace, the way a container runs its entrypoint, seen from outside:
// `unshare --fork` stays in the host's namespace and its child is the namespace's init, so every process of the
// namespace is a descendant of the unshare process, visible in the host's /proc under its host pid.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, descendantsOf, waitFor } from '../helpers/cli.js';
import { start, type Proc } from '../inspector-port/helpers.js';
import { readArgv, readStat } from '../../src/platform/linux/stat.js';

const UNSHARE = ['--pid', '--fork', '--mount-proc'];

/** Why the namespace tests cannot run here, or undefined when `unshare` works. */
export function unshareRefused(): string | undefined {
  const r = spawnSync('unshare', [...UNSHARE, 'true'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return undefined;
  return `unshare ${UNSHARE.join(' ')} is refused here (${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)}): it needs root or unprivileged user namespaces`;
}

export interface Container extends Proc {
  /** Host pid of the namespace's PID 1, the supervisor, once it runs. */
  init(): Promise<number>;
  /** Every process of the namespace now, init included. */
  processes(): NsProcess[];
}

export interface NsProcess {
  /** As the host sees it: what to signal or look up in /proc from outside. */
  pid: number;
  /** As the namespace sees it: what the agent writes to its files. */
  nsPid: number;
  /** Host pid of its parent. */
  ppid: number;
  state: string;
  argv: string[];
}

/** `unshare --pid --fork --mount-proc node dist/cli/main.cjs <args>` in `cwd`; ended after the test. */
export function startContainer(args: string[], cwd: string): Container {
  const proc = start('unshare', [...UNSHARE, process.execPath, CLI, ...args], { cwd });
  const processes = () => namespaceProcesses(proc.pid);
  const init = () =>
    waitFor(
      // Until it execs, unshare's child is a copy of unshare.
      () => processes().find((p) => p.nsPid === 1 && p.argv.includes(CLI))?.pid,
      15_000,
      'the supervisor as PID 1',
    );
  return { ...proc, init, processes };
}

function namespaceProcesses(unsharePid: number): NsProcess[] {
  const found: NsProcess[] = [];
  for (const pid of descendantsOf(unsharePid)) {
    if (pid === unsharePid) continue;
    const stat = readStat(pid);
    const nsPid = nsPidOf(pid);
    if (stat && nsPid !== undefined) found.push({ pid, nsPid, ppid: stat.ppid, state: stat.state, argv: readArgv(pid) ?? [stat.comm] });
  }
  return found;
}

/** The innermost pid of /proc/<pid>/status's `NSpid:` line (host pid first, then one per nested namespace). */
function nsPidOf(pid: number): number | undefined {
  try {
    const line = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return line ? Number(line.trim().split(/\s+/).at(-1)) : undefined;
  } catch {
    return undefined;
  }
}
