// One tick of observation: the run's processes from one /proc pass, their RSS, CPU, threads, fds and
// established TCP connections, the V8 heap of every instrumented node process, and system memory. CPU comes
// from the same /proc/<pid>/stat read that finds the tree, so a tick opens no file per process beyond it
// (pidusage would read that file again and keep it open).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { ProcessSample, TickSample } from './policy.js';
import { Ring } from './ring.js';
import { systemMemory } from './sysmem.js';
import { pageSize, type ProcStat, type ProcessTree } from './tree.js';

/** What the sampler needs of the CDP layer (inspector.ts provides it). */
export interface HeapReader {
  has(pid: number): boolean;
  heap(pid: number): Promise<{ used: number; total: number; limit: number; oldSpaceLimit?: number }>;
}

export interface HistoryPoint {
  t: number;
  rssBytes: number;
  heapUsed?: number;
}

export interface ProcessRecordView extends ProcessSample {
  comm: string;
  state: string;
  threads: number;
  cpuPercent: number;
  heapTotal?: number;
}

export interface Tick extends TickSample {
  processes: ProcessRecordView[];
  durationMs: number;
}

// Linux reports CPU times in USER_HZ, fixed at 100 by its ABI whatever the kernel's own tick rate.
const USER_HZ = 100;

export function establishedSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Column 4 is the state (01 = ESTABLISHED), column 10 the socket inode.
      if (f[3] === '01' && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

function fdStats(pid: number, established: Set<string>): { fds?: number; sockets?: number } {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return {};
  }
  let sockets = 0;
  for (const n of names) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${n}`);
      if (target.startsWith('socket:[') && established.has(target.slice(8, -1))) sockets++;
    } catch {
      // The descriptor closed between listing and reading.
    }
  }
  return { fds: names.length, sockets };
}

function readArgv(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** A label that stays the same across restarts (metrics must not be labelled by an unbounded pid set). */
export function roleOf(argv: string[] | undefined, comm: string, isAgent: boolean): string {
  if (isAgent) return 'agent';
  const [exe, ...rest] = argv ?? [];
  if (exe && path.basename(exe) === 'node') {
    const script = rest.find((a) => !a.startsWith('-'));
    return script ? `node:${path.basename(script)}` : 'node';
  }
  return comm;
}

interface Known {
  startTime: number;
  /** exec() keeps pid and start time but changes comm: a process first seen between fork and exec. */
  comm: string;
  argv?: string[];
  cpuTicks: number;
  at: number;
  history: Ring<HistoryPoint>;
}

export class Sampler {
  private readonly known = new Map<number, Known>();

  constructor(
    private readonly tree: ProcessTree,
    private readonly heaps: HeapReader | undefined,
    private readonly historySize: number,
    /** The argv a node process registered with: /proc's cmdline follows process.title (npm rewrites it). */
    private readonly registeredArgv: (pid: number) => string[] | undefined = () => undefined,
  ) {}

  async tick(agentPid: number | undefined): Promise<Tick> {
    const started = performance.now();
    const at = Date.now();
    const members = this.tree.scan();
    const established = establishedSocketInodes();
    const page = pageSize();
    const processes = await Promise.all(members.map((p) => this.sampleOne(p, p.pid === agentPid, established, page, at)));
    const alive = new Set(members.map((p) => p.pid));
    for (const pid of this.known.keys()) if (!alive.has(pid)) this.known.delete(pid);
    return { at, processes, system: systemMemory(), durationMs: performance.now() - started };
  }

  history(pid: number): HistoryPoint[] {
    return this.known.get(pid)?.history.toArray() ?? [];
  }

  /** A new run starts with no history: its processes are new. */
  reset(): void {
    this.known.clear();
  }

  private async sampleOne(p: ProcStat, isAgent: boolean, established: Set<string>, page: number, at: number): Promise<ProcessRecordView> {
    let k = this.known.get(p.pid);
    if (!k || k.startTime !== p.startTime) {
      k = { startTime: p.startTime, comm: p.comm, argv: readArgv(p.pid), cpuTicks: p.cpuTicks, at, history: new Ring(this.historySize) };
      this.known.set(p.pid, k);
    } else if (k.comm !== p.comm) {
      k.comm = p.comm;
      k.argv = readArgv(p.pid);
    }
    const elapsed = (at - k.at) / 1000;
    const cpuPercent = elapsed > 0 ? Math.round(((p.cpuTicks - k.cpuTicks) / USER_HZ / elapsed) * 1000) / 10 : 0;
    k.cpuTicks = p.cpuTicks;
    k.at = at;
    const argv = this.registeredArgv(p.pid) ?? k.argv;
    const view: ProcessRecordView = {
      pid: p.pid,
      ppid: p.ppid,
      comm: p.comm,
      state: p.state,
      argv,
      role: roleOf(argv, p.comm, isAgent),
      isAgent,
      rssBytes: p.rssPages * page,
      threads: p.threads,
      cpuPercent,
      ...fdStats(p.pid, established),
    };
    if (this.heaps?.has(p.pid)) {
      try {
        const h = await this.heaps.heap(p.pid);
        view.heapUsed = h.used;
        view.heapTotal = h.total;
        view.heapLimit = h.oldSpaceLimit ?? h.limit;
      } catch {
        // Unresponsive (blocked in a sync call) or gone: this tick has RSS only; the inspector logged why.
      }
    }
    k.history.push({ t: at, rssBytes: view.rssBytes, heapUsed: view.heapUsed });
    return view;
  }
}
