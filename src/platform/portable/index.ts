// The portable backend: only what macOS has as well. The process table from one ps call per tick, descriptors and
// sockets from lsof (at the slow cadence), memory from sysctl/vm_stat (macOS) or free, and no subreaper: orphans
// of the tree go to init, and the watchdog and the ledger find them by start time and session.
import type { DescriptorCount, Platform, ProcessTable, ProcStat } from '../index.js';
import { countDescriptors, listenersIn, parseLsof, runLsof, type LsofFile } from './lsof.js';
import { systemMemory } from '../memory-tools.js';
import { envFlag, parseTargetStatus, psMarked, psOne, psTable, runPs } from './ps.js';

/** ps reports RSS in KiB: the backend's page is one KiB. */
const PAGE = 1024;

/**
 * One ps call reads the whole table: a walk from roots would cost a call per process. A ps that failed says
 * nothing of who lives: the last table stands in, or every process of the run would look gone (ended, recorded,
 * its alerts raised again when it is seen next, a stop that ends nothing).
 */
function processTable(): ProcessTable {
  let last = new Map<number, ProcStat>();
  return { scan: () => (last = psTable() ?? last), close: () => undefined };
}

/** The argv ps shows, joined by spaces: an argument that held a space comes back as two, an empty one not at all. */
function readArgv(pid: number): string[] | undefined {
  const text = runPs(['-o', 'args=', '-p', String(pid)]).trim();
  return text ? text.split(/\s+/) : undefined;
}

/** The executable: lsof's first `txt` file (macOS and Linux alike); ps's comm where lsof is missing. */
function executableOf(pid: number): string {
  const files = parseLsof(runLsof(['-a', '-p', String(pid), '-d', 'txt']) ?? '').get(pid);
  return files?.find((f) => f.fd === 'txt')?.name ?? runPs(['-o', 'comm=', '-p', String(pid)]).trim();
}

function descriptors(pids: readonly number[]): Map<number, DescriptorCount> {
  const files = pids.length > 0 ? parseLsof(runLsof(['-p', pids.join(',')]) ?? '') : new Map<number, LsofFile[]>();
  return new Map(pids.map((pid) => {
    const own = files.get(pid);
    return [pid, own ? countDescriptors(own) : {}];
  }));
}

function listenersOf(pid: number) {
  const files = parseLsof(runLsof(['-a', '-p', String(pid), '-iTCP']) ?? '').get(pid);
  if (files) return listenersIn(files);
  // No TCP file at all, or no process: only the latter is undefined.
  return psOne(pid) ? [] : undefined;
}

/** Every listener lsof can see: the user's own processes unless root (/proc/net shows every socket). */
const allListeners = () => [...parseLsof(runLsof(['-iTCP', '-sTCP:LISTEN']) ?? '')].flatMap(([pid, files]) => listenersIn(files).map((l) => ({ pid, l })));

export const portablePlatform: Platform = {
  name: 'portable',
  pageSize: () => PAGE,
  readStat: (pid) => psOne(pid === 'self' ? process.pid : pid),
  processTable,
  adoptedChildren: () => [],
  marksRuns: true,
  markedProcesses: psMarked,
  readArgv,
  // ps shows another process's environment only on some systems and in its own format: not known here.
  readEnvVar: () => undefined,
  executableOf,
  targetStatus: (pid) => parseTargetStatus(runPs(['-o', 'uid=,state=,comm=', '-p', String(pid)])),
  // Network namespaces are Linux's.
  sameNetwork: () => true,
  // One lsof call costs tens of milliseconds: descriptors are counted with the connections, not every tick.
  fdCount: () => undefined,
  descriptors,
  // RssAnon/RssFile/RssShmem are Linux's; ps has the RSS alone.
  rssKinds: () => undefined,
  listenersOf,
  listenersOnPort: (port) => allListeners().filter(({ l }) => l.port === port).map(({ l }) => l),
  // macOS has no /proc/self/net: the closer keeps a lease instead.
  inspectorHeldSource: () => undefined,
  holderOf: (inode) => allListeners().find(({ l }) => l.inode === inode)?.pid,
  systemMemory: () => systemMemory(),
  becomeSubreaper: () => false,
  // No PR_SET_PDEATHSIG: the watchdog alone ends the tree of a supervisor killed outright.
  withParentDeathSignal: (argv) => argv,
  // macOS's /dev/fd/N duplicates the descriptor, the same description: nothing to open again there.
  reopenablePath: () => undefined,
  watchdogMode: () => ['ps', envFlag(process.platform)],
};
