// The one seam between the supervisor and the operating system: the process table, a process's argv, executable,
// descriptors and sockets, the memory figures, the C library, and whether orphans come back to us (subreaper).
// Two backends: `linux` reads /proc and uses prctl; `portable` uses only what macOS has as well (ps, lsof,
// sysctl/vm_stat or free, libc by name) and leaves orphans to the watchdog and the ledger. Darwin selects
// `portable`; CFN_SUPERVISE_BACKEND=portable forces it on Linux, where it is exercised.
import { fileURLToPath } from 'node:url';
import type { Libc } from './libc.js';
import type { SystemMemory } from './sysmem.js';
import { linuxPlatform } from './linux/index.js';
import { portablePlatform } from './portable/index.js';
import type { DescriptorCount, ProcStat, RssKinds, TcpListener } from './types.js';

export { connectHost, type DescriptorCount, type ProcStat, type RssKinds, type TcpListener } from './types.js';

/** The processes of one pass, by pid. */
export interface ProcessTable {
  /** All processes when `full`; else those below `roots` at least (a backend may return more). */
  scan(full: boolean, roots: () => Iterable<number>): Map<number, ProcStat>;
  /** Lets go of what scans keep between passes. */
  close(): void;
}

/** What a refusal to attach needs to know of a process. */
export interface TargetStatus {
  comm: string;
  state: string;
  uid: number;
}

export interface Platform {
  readonly name: BackendName;
  /** Bytes per unit of ProcStat.rssPages. */
  pageSize(): number;
  readStat(pid: number | 'self'): ProcStat | undefined;
  processTable(): ProcessTable;
  /**
   * Our children, where orphans may be among them (adopted as subreaper): the caller leaves out those it spawned.
   * Empty where nothing is adopted (portable: orphans go to init).
   */
  adoptedChildren(): number[];
  /**
   * Whether orphans are found by the run's mark in their environment (RUN_MARK_ENV=<run id>) rather than brought
   * back by a subreaper: a double-forked daemon that no scan saw is still the run's.
   */
  readonly marksRuns: boolean;
  /**
   * The processes whose environment holds `mark` (NAME=value): one look at every process's environment;
   * undefined when that look failed, which says nothing of who carries the mark.
   */
  markedProcesses(mark: string): Set<number> | undefined;
  /** The watchdog's arguments after its grace: how it reads the process table (watchdog.sh). */
  watchdogMode(): string[];
  readArgv(pid: number): string[] | undefined;
  readEnvVar(pid: number, name: string): string | undefined;
  /** The executable a process runs; '' where there is none (a kernel thread) or it is gone. */
  executableOf(pid: number): string;
  targetStatus(pid: number): TargetStatus | undefined;
  /** False only when `pid` is known to live in another network namespace (its 127.0.0.1 is not ours). */
  sameNetwork(pid: number): boolean;
  /** Open descriptors of one process, cheap enough for every tick; undefined where that cannot be had cheaply. */
  fdCount(pid: number): number | undefined;
  /** Per pid, its open descriptors and established TCP connections, at the slower cadence. */
  descriptors(pids: readonly number[]): Map<number, DescriptorCount>;
  /** What a process's RSS is made of; undefined when it is gone, or where the OS does not tell (portable). */
  rssKinds(pid: number): RssKinds | undefined;
  listenersOf(pid: number): TcpListener[] | undefined;
  /**
   * For the inspector's fallback closer: the source of `(require) => () => boolean`, run inside the target, that
   * tells whether a client is connected on `port`; undefined where the target cannot see that (the closer then
   * keeps a lease the session renews).
   */
  inspectorHeldSource(port: number): string | undefined;
  listenersOnPort(port: number): TcpListener[];
  /** The process holding a socket, for error messages only: may scan every process. */
  holderOf(inode: string): number | undefined;
  systemMemory(): SystemMemory;
  /** Asks for the orphans of the agent's tree; false when they go to init (the watchdog and ledger find them). */
  becomeSubreaper(libc: Libc): boolean;
  /** The agent's command line, wrapped so that it hears at once of the supervisor's death where the OS can say. */
  withParentDeathSignal(argv: string[]): string[];
  /** A path that opens this process's pipe `fd` again as a new description; undefined where the OS has none. */
  reopenablePath(fd: number): string | undefined;
}

export type BackendName = 'linux' | 'portable';

/**
 * The watchdog's script (orphans/watchdog.ts starts it), beside this module in dist (the build copies it): it reads
 * the process table itself, from /proc or from ps as `watchdogMode()` says, and a shell script reads best as one.
 */
export const WATCHDOG_SCRIPT = fileURLToPath(new URL('./watchdog.sh', import.meta.url));

/** Where the platform marks runs (marksRuns), every process of a run inherits this variable, set to the run's id. */
export const RUN_MARK_ENV = 'CFN_SUPERVISE_RUN';

/**
 * A CFN_SUPERVISE_BACKEND that cannot run here: the user's to fix, so the command says it in one line and exits
 * as on any usage error (its exitCode is common/errors.ts's EXIT.usage, which the seam does not import).
 */
export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable';
  readonly exitCode = 2;
}

/** Pure: which backend runs here. An unknown CFN_SUPERVISE_BACKEND is an error, not a silent default. */
export function selectBackend(requested: string | undefined, os: NodeJS.Platform): BackendName {
  if (requested === 'linux' || requested === 'portable') {
    if (requested === 'linux' && os !== 'linux') throw new BackendUnavailable(`CFN_SUPERVISE_BACKEND=linux needs Linux, not ${os}`);
    return requested;
  }
  if (requested !== undefined && requested !== '') throw new BackendUnavailable(`CFN_SUPERVISE_BACKEND must be linux or portable, not ${requested}`);
  return os === 'linux' ? 'linux' : 'portable';
}

let selected: Platform | undefined;

export function platform(): Platform {
  selected ??= selectBackend(process.env.CFN_SUPERVISE_BACKEND, process.platform) === 'linux' ? linuxPlatform : portablePlatform;
  return selected;
}

// The calls by name, for callers that need one or two: the backend is chosen at the first call, not at import.
export const pageSize = (): number => platform().pageSize();
export const readStat = (pid: number | 'self'): ProcStat | undefined => platform().readStat(pid);
/** The process `pid` now, if it is still the one that started at `startTime` and not a zombie: a pid is reused. */
export function stillLiving(pid: number, startTime: number): ProcStat | undefined {
  const now = readStat(pid);
  return now !== undefined && now.startTime === startTime && now.state !== 'Z' ? now : undefined;
}
export const readArgv = (pid: number): string[] | undefined => platform().readArgv(pid);
export const readEnvVar = (pid: number, name: string): string | undefined => platform().readEnvVar(pid, name);
export const executableOf = (pid: number): string => platform().executableOf(pid);
export const listenersOf = (pid: number): TcpListener[] | undefined => platform().listenersOf(pid);
export const listenersOnPort = (port: number): TcpListener[] => platform().listenersOnPort(port);
export const holderOf = (inode: string): number | undefined => platform().holderOf(inode);
export const systemMemory = (): SystemMemory => platform().systemMemory();
