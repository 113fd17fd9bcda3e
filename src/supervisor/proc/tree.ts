// The agent's process tree, read from /proc in one pass per call (ps or pidtree per process costs 10× more),
// and the walks that signal, kill and reap it. Descendants that called setsid() or changed group escape the
// process group, so membership is by ancestry, by group, by adoption (we are the subreaper) and by memory
// of every pid seen in the run (keyed by start time, so a recycled pid is never mistaken for a member).
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Libc } from './libc.js';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** CPU time in clock ticks (user + system). */
  cpuTicks: number;
  threads: number;
  /** Clock ticks after boot: with the pid, the identity of a process. */
  startTime: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).split(' ');
  if (f.length < 22) return undefined;
  const n = (i: number) => Number(f[i]);
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state: f[0]!,
    ppid: n(1),
    pgid: n(2),
    sid: n(3),
    cpuTicks: n(11) + n(12),
    threads: n(17),
    startTime: n(19),
    rssPages: n(21),
  };
}

// One buffer for every stat read: readFileSync would allocate per file and fstat it first, a third of a
// scan's cost. A stat line is far below 4 KiB (comm is at most 64 bytes).
const statBuffer = Buffer.allocUnsafe(4096);

export function readStat(pid: number | 'self'): ProcStat | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
    return parseStat(statBuffer.toString('latin1', 0, readSync(fd, statBuffer, 0, statBuffer.length, 0)));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
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

const identity = (p: ProcStat) => `${p.pid}:${p.startTime}`;

export interface TreeScope {
  selfPid: number;
  selfPgid: number;
  agentPid?: number;
  agentPgid?: number;
  /** Identities of processes seen in this run. */
  seen: ReadonlySet<string>;
  /** Identities left alive on purpose (--orphans keep): never members again. */
  kept: ReadonlySet<string>;
}

/** Pure: the processes of the run, the supervisor itself excluded. */
export function collectMembers(procs: ReadonlyMap<number, ProcStat>, scope: TreeScope): ProcStat[] {
  const children = new Map<number, number[]>();
  for (const p of procs.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const roots: number[] = [];
  for (const p of procs.values()) {
    if (p.pid === scope.selfPid) continue;
    const adopted = p.ppid === scope.selfPid && p.pgid !== scope.selfPgid;
    const inGroup = scope.agentPgid !== undefined && p.pgid === scope.agentPgid;
    if (p.pid === scope.agentPid || adopted || inGroup || scope.seen.has(identity(p))) roots.push(p.pid);
  }
  const members = new Map<number, ProcStat>();
  const queue = roots;
  while (queue.length > 0) {
    const pid = queue.pop()!;
    const p = procs.get(pid);
    if (!p || members.has(pid) || pid === scope.selfPid || scope.kept.has(identity(p))) continue;
    members.set(pid, p);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return [...members.values()];
}

function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export class ProcessTree {
  private readonly selfPgid: number;
  private agentPid?: number;
  private agentPgid?: number;
  private seen = new Set<string>();
  private readonly kept = new Set<string>();

  constructor(
    private readonly libc: Libc | undefined,
    private readonly selfPid = process.pid,
  ) {
    this.selfPgid = readStat(selfPid)?.pgid ?? selfPid;
  }

  beginRun(agentPid: number): void {
    this.agentPid = agentPid;
    // Spawned detached, the agent leads its own session and group: its pgid is its pid.
    this.agentPgid = agentPid;
    this.seen = new Set();
  }

  /** The agent itself is gone (libuv reaped it); its group and descendants may live on. */
  agentExited(): void {
    this.agentPid = undefined;
  }

  /**
   * One /proc pass: the run's live processes. Zombies adopted by the subreaper are reaped here, each by its
   * own pid: waitpid(-1) would steal the exit status of libuv's children.
   */
  scan(): ProcStat[] {
    const procs = scanProcesses();
    if (this.kept.size > 0) this.forgetGone(procs);
    const members = collectMembers(procs, this.scope());
    this.seen = new Set(members.map(identity));
    const live: ProcStat[] = [];
    for (const p of members) {
      if (p.state !== 'Z') live.push(p);
      else if (p.ppid === this.selfPid && p.pid !== this.agentPid) this.libc?.reap(p.pid);
    }
    return live;
  }

  /** Sends a signal to the agent's group and to every live member (setsid escapees included). */
  signalAll(signal: NodeJS.Signals, members = this.scan()): void {
    if (this.agentPgid !== undefined) signalPid(-this.agentPgid, signal);
    for (const p of members) signalPid(p.pid, signal);
  }

  /**
   * Signals everything, waits up to graceMs for the tree to go, then SIGKILLs what remains, repeating the
   * walk until nothing is left (a process can fork while we kill its parent). Returns what survived.
   */
  async terminate(signal: NodeJS.Signals, graceMs: number, hurry?: AbortSignal): Promise<ProcStat[]> {
    let members = this.scan();
    if (members.length > 0 && graceMs > 0) {
      this.signalAll(signal, members);
      const deadline = Date.now() + graceMs;
      while (members.length > 0 && Date.now() < deadline && !hurry?.aborted) {
        await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
        members = this.scan();
      }
    }
    return this.killAll();
  }

  async killAll(maxMs = 5000): Promise<ProcStat[]> {
    const deadline = Date.now() + maxMs;
    let members = this.scan();
    while (members.length > 0 && Date.now() < deadline) {
      this.signalAll('SIGKILL', members);
      await sleep(10);
      members = this.scan();
    }
    return members;
  }

  /** --orphans keep: what is left of this run is no longer ours to track or kill. */
  release(members: ProcStat[]): void {
    for (const p of members) this.kept.add(identity(p));
  }

  private forgetGone(procs: ReadonlyMap<number, ProcStat>): void {
    for (const id of this.kept) {
      const p = procs.get(Number(id.split(':')[0]));
      if (!p || identity(p) !== id) this.kept.delete(id);
    }
  }

  private scope(): TreeScope {
    return {
      selfPid: this.selfPid,
      selfPgid: this.selfPgid,
      agentPid: this.agentPid,
      agentPgid: this.agentPgid,
      seen: this.seen,
      kept: this.kept,
    };
  }
}
