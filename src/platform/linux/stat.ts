// /proc/<pid>/stat, read in one pass per call: the identity (pid + start time), parentage, group, session,
// state, CPU, threads and RSS of every process. ps or pidtree per process costs an order of magnitude more.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import type { ProcStat } from '../types.js';


const PF_EXITING = 0x4;
// The fields parseStat reads after the state, by their number in `man 5 proc` minus 3 (ppid is 1): ppid, pgrp,
// session, flags, utime, stime, num_threads, starttime, rss.
const STAT_FIELDS: readonly number[] = [1, 2, 3, 6, 11, 12, 17, 19, 21];

/**
 * Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so fields are counted from the last ')'. Read
 * for every member on every tick: the numbers are parsed in place, not split into ~50 strings first.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open || text.charCodeAt(close + 1) !== 32) return undefined;
  const state = text.charAt(close + 2);
  const values: number[] = [];
  let field = 0;
  let i = close + 3;
  while (values.length < STAT_FIELDS.length) {
    if (i >= text.length || text.charCodeAt(i) !== 32) return undefined;
    i++;
    field++;
    const start = i;
    let n = 0;
    let negative = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10) break;
      if (c === 45 && i === start) negative = true;
      else if (c >= 48 && c <= 57) n = n * 10 + (c - 48);
      else return undefined;
    }
    if (i === start) return undefined;
    if (field === STAT_FIELDS[values.length]) values.push(negative ? -n : n);
  }
  const [ppid, pgid, sid, flags, utime, stime, threads, startTime, rssPages] = values as [number, number, number, number, number, number, number, number, number];
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state,
    ppid,
    pgid,
    sid,
    cpuTicks: utime + stime,
    threads,
    startTime,
    rssPages,
    // flags is a 32-bit word: the bitwise test keeps its low bits exactly.
    exiting: (flags & PF_EXITING) !== 0,
  };
}

// One buffer for every stat and children read: readFileSync would allocate per file and fstat it first, a large
// share of a scan's cost. A stat line is far below 4 KiB (comm is at most 64 bytes).
const statBuffer = Buffer.allocUnsafe(4096);

/**
 * The /proc files of the tree's members, kept open from one scan to the next and read again from the start (a
 * /proc file is made afresh at every read from offset 0): a member then costs a read per file and tick instead
 * of an open, a read and a close, which were half of a scan's cost at 50 processes (profiled). An open file stays
 * bound to the process it was opened for: once that process is gone, reading it fails (ESRCH) even if its pid
 * was reused, and it is closed. Bounded; a file the last scan did not read is closed (sweep).
 */
export class OpenProcFiles {
  private readonly fds = new Map<string, number>();
  private read = new Set<string>();

  constructor(private readonly max = 512) {}

  /** Reads `file` from `position` into `buffer` at `offset`; throws as readSync does. */
  readAt(file: string, buffer: Buffer, offset: number, position: number): number {
    const kept = this.fds.get(file);
    const fd = kept ?? openSync(file, 'r');
    let read = false;
    try {
      const n = readSync(fd, buffer, offset, buffer.length - offset, position);
      read = true;
      return n;
    } finally {
      if (read && (kept !== undefined || this.fds.size < this.max)) {
        this.fds.set(file, fd);
        this.read.add(file);
      } else {
        this.fds.delete(file);
        closeSync(fd);
      }
    }
  }

  /** Closes every file the reads since the last sweep did not touch. */
  sweep(): void {
    for (const file of this.fds.keys()) if (!this.read.has(file)) this.drop(file);
    this.read = new Set();
  }

  close(): void {
    for (const file of [...this.fds.keys()]) this.drop(file);
  }

  get size(): number {
    return this.fds.size;
  }

  private drop(file: string): void {
    const fd = this.fds.get(file);
    this.fds.delete(file);
    if (fd !== undefined) closeSync(fd);
  }
}

/** Keeps nothing open: each read opens, reads and closes. */
const once = new OpenProcFiles(0);

/**
 * A /proc list read whole into the shared buffer, grown when it fills. Read until the end: a seq_file such
 * as `children` hands out whole records per read, so a short read is not the end of it.
 */
function readList(file: string, files = once): string {
  let buffer = statBuffer;
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const larger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(larger);
      buffer = larger;
    }
    const n = files.readAt(file, buffer, length, length);
    if (n === 0) return buffer.toString('latin1', 0, length);
    length += n;
  }
}

export function readStat(pid: number | 'self', files = once): ProcStat | undefined {
  try {
    // One read: a stat line is a single record, never split across reads.
    return parseStat(statBuffer.toString('latin1', 0, files.readAt(`/proc/${pid}/stat`, statBuffer, 0, 0)));
  } catch {
    return undefined;
  }
}

/** The children of a process's threads (/proc/<pid>/task/<tid>/children); `mainOnly`: its main thread's alone. */
export function childrenOf(pid: number | 'self', mainOnly = false, files = once): number[] {
  const pids: number[] = [];
  let tasks: string[];
  try {
    tasks = mainOnly && pid !== 'self' ? [String(pid)] : readdirSync(`/proc/${pid}/task`);
  } catch {
    return pids;
  }
  for (const tid of tasks) {
    try {
      for (const p of readList(`/proc/${pid}/task/${tid}/children`, files).split(' ')) if (p) pids.push(Number(p));
    } catch {
      // The thread (or process) ended between listing and reading.
    }
  }
  return pids;
}

/**
 * The stat of `roots` and of everything below them, found through the main thread's children lists: a pass
 * that reads a file or two per process of the tree instead of one per process of the machine. With `files`,
 * those stay open for the next pass, and what this one did not read is closed.
 */
export function scanFrom(roots: Iterable<number>, files = once): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (procs.has(pid)) continue;
    const stat = readStat(pid, files);
    if (!stat) continue;
    procs.set(pid, stat);
    queue.push(...childrenOf(pid, true, files));
  }
  files.sweep();
  return procs;
}

export function scanProcesses(): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue;
    const stat = readStat(Number(name));
    if (stat) procs.set(stat.pid, stat);
  }
  return procs;
}

let cachedPageSize: number | undefined;

/** Bytes per page, which /proc/<pid>/stat counts RSS in: derived once from our own RSS in pages and in kB. */
export function pageSize(): number {
  if (cachedPageSize === undefined) {
    try {
      const pages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]);
      cachedPageSize = 2 ** Math.round(Math.log2((kb * 1024) / pages));
    } catch {
      cachedPageSize = 4096;
    }
    if (!Number.isFinite(cachedPageSize)) cachedPageSize = 4096;
  }
  return cachedPageSize;
}

/** A process's argv from /proc (it follows process.title: npm rewrites its own). */
export function readArgv(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** One variable of the environment a process was started with (what node read its NODE_OPTIONS from). */
export function readEnvVar(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((kv) => kv.startsWith(prefix))?.slice(prefix.length);
  } catch {
    return undefined;
  }
}

/** The executable a process runs: '' for a kernel thread or one gone. */
export function executableOf(pid: number): string {
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    // A kernel thread has no executable; a process that ended has none either.
  }
  return exe;
}
