// One tick of observation: the run's processes from one /proc pass, their RSS, CPU, threads, fds and
// established TCP connections, the V8 heap of every instrumented node process, and system memory. CPU comes
// from the same /proc/<pid>/stat read that finds the tree, so a tick opens no file per process beyond it
// (pidusage would read that file again and keep it open).
import path from 'node:path';
import { TimeoutError } from '../../common/errors.js';
import type { ProcessSample, TickSample } from './policy.js';
import type { HeapHistory, Point } from './trend.js';
import { PairRing, Ring } from './ring.js';
import { pageSize, platform, readArgv, systemMemory, type Platform, type ProcStat } from '../platform/index.js';
import { parseNodeArgs } from '../proc/node-argv.js';
import type { ProcessTree } from '../proc/tree.js';
import { MB } from '../../common/units.js';

/** What the sampler needs of the CDP layer (probe-link/sessions.ts provides it). */
export interface HeapReader {
  has(pid: number): boolean;
  heap(pid: number): Promise<{
    used: number;
    total: number;
    limit: number;
    oldSpaceLimit?: number;
    /** The process is recording a sampling profile (its probe started at the first sign of pressure). */
    sampling?: boolean;
    /** Heap used after its latest major GC, and when (epoch ms). */
    lastGc?: { used: number; at: number };
    /** A Bun process (through its inspector link), not a probed node one. */
    runtime?: 'bun';
  }>;
}

export interface HistoryPoint {
  t: number;
  rssBytes: number;
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
// Counting descriptors lists /proc/<pid>/fd of every process, and counting connections adds a readlink per
// descriptor and a read of /proc/net/tcp{,6}, which walks the kernel's whole connection hash (~10 ms even for
// a handful of lines). Counted every 10 s, that was a fifth of the supervisor's CPU at 50 processes (profiled).
// Descriptor and connection leaks build up over minutes; their counts need no per-second freshness. Counted in
// ticks, so that a shorter --interval, which asks for quicker reactions at a higher cost, gets them here too.
const DESCRIPTORS_EVERY_TICKS = 30;
// A heap reading is a round trip to the probe in every node process on every tick: most of the supervisor's
// CPU with many processes. A growing heap moves RSS (which /proc gives for free), and the probe reports the heap
// after every major GC by itself, so a process below the warning fraction is asked again only when its RSS
// moved this much since its last reading, or when that reading is this old; a process under pressure is asked
// every tick.
const HEAP_RSS_DELTA_BYTES = MB;
const HEAP_MAX_AGE_MS = 15_000;
/**
 * RSS history is only shown (a sparkline in `status` and `top`), never fitted: the trend is fitted on heaps. It
 * used to be kept as long as the trend window, 301 to 3,600 points per process of which views showed 60.
 */
export const RSS_HISTORY_POINTS = 60;

/**
 * A label that stays the same across restarts (metrics must not be labelled by an unbounded pid set), and never
 * carries code or secrets: `node -e '<code>'` is `node:-e`, a script is its base name.
 */
export function roleOf(argv: string[] | undefined, comm: string, isAgent: boolean): string {
  if (isAgent) return 'agent';
  const [exe, ...rest] = argv ?? [];
  if (!exe || path.basename(exe) !== 'node') return comm;
  const { entry } = parseNodeArgs(rest);
  if (entry === undefined) return 'node';
  return `node:${entry.startsWith('-') ? entry : path.basename(entry)}`;
}

/** One process's life as the sampler saw it: what processes.jsonl records when it ends. */
export interface ProcessLife {
  pid: number;
  ppid: number;
  role: string;
  argv?: string[];
  firstAt: number;
  lastAt: number;
  rss: { start: number; peak: number; end: number };
  heap?: { start: number; peak: number; end: number; limit: number };
  /** It answered heap reads through the probe (or, a Bun process, its inspector link) at some point. */
  probed: boolean;
  runtime?: 'bun';
}

interface Known {
  startTime: number;
  life: ProcessLife;
  /** exec() keeps pid and start time but changes comm: a process first seen between fork and exec. */
  comm: string;
  argv?: string[];
  cpuTicks: number;
  at: number;
  /** Open descriptors and established TCP connections at the last count. */
  fds?: number;
  sockets?: number;
  /** RSS history: (t, rssBytes) pairs, handed out as HistoryPoints. */
  rss: PairRing;
  /** Heap readings as they arrived. */
  heaps: Ring<Point>;
  /** The heap right after each major GC, as the probe reported it: what the leak trend is fitted on first. */
  floors: Ring<Point>;
  /** Both rings as handed out since their last change (leakTrend keeps its answer per history object). */
  history?: HeapHistory;
  /** The role, and what it was worked out from (it changes at exec or registration, not every tick). */
  role?: { argv: string[] | undefined; comm: string; isAgent: boolean; name: string };
  heap?: { at: number; rssBytes: number; used: number; total: number; limit: number };
  /** A heap read in flight: at most one per process, so a blocked agent never piles up requests. */
  reading?: Promise<void>;
  /** Heap reads in a row that got no answer in time. */
  missed: number;
}

export interface SamplerOptions {
  historySize: number;
  /** The argv a node process registered with: /proc's cmdline follows process.title (npm rewrites it). */
  registeredArgv?: (pid: number) => string[] | undefined;
  /** Heap used ÷ limit from which a process's heap is read on every tick (the warning fraction). */
  pressure?: () => number;
  /** A heap reading arrived: the watcher decides at once on one under pressure instead of a tick later. */
  onHeap?: (pid: number, fraction: number) => void;
  /** A process of the run is gone (or the run ended with it still there); `node`: it was a node process. */
  onEnded?: (life: ProcessLife, endedWithRun: boolean, node: boolean) => void;
}

/**
 * Every tick is one synchronous /proc pass: RSS, fd and connection rules never wait for an agent. Heap reads run
 * beside it, one in flight per process with the call's own deadline, and their answers feed the next tick.
 */
export class Sampler {
  private readonly known = new Map<number, Known>();
  /** Ticks since descriptors were last counted: the first tick counts them. */
  private descriptorsAge = Infinity;
  private historySize: number;

  constructor(
    private readonly tree: ProcessTree,
    private readonly heaps: HeapReader | undefined,
    private readonly opts: SamplerOptions,
  ) {
    this.historySize = opts.historySize;
  }

  tick(agentPid: number | undefined): Tick {
    const started = performance.now();
    const at = Date.now();
    const members = this.tree.scan();
    let descriptors: ReturnType<Platform['descriptors']> | undefined;
    if (++this.descriptorsAge >= DESCRIPTORS_EVERY_TICKS) {
      this.descriptorsAge = 0;
      descriptors = platform().descriptors(members.map((p) => p.pid));
    }
    const page = pageSize();
    const processes = members.map((p) => this.sampleOne(p, p.pid === agentPid, descriptors?.get(p.pid)?.fds, descriptors?.get(p.pid)?.connections, page, at));
    const alive = new Set(members.map((p) => p.pid));
    for (const [pid, k] of this.known) {
      if (alive.has(pid)) continue;
      this.ended(k, false);
      this.known.delete(pid);
    }
    return { at, processes, system: systemMemory(), durationMs: performance.now() - started };
  }

  /** The run is over: what is still known ends with it. */
  finish(): void {
    for (const k of this.known.values()) this.ended(k, true);
    this.known.clear();
  }

  private ended(k: Known, withRun: boolean): void {
    const { life } = k;
    const isNode = life.probed || life.role === 'node' || life.role.startsWith('node:') || (life.argv?.[0] !== undefined && path.basename(life.argv[0]) === 'node');
    this.opts.onEnded?.(life, withRun, isNode);
  }

  history(pid: number): HistoryPoint[] {
    return this.known.get(pid)?.rss.map((t, rssBytes) => ({ t, rssBytes })) ?? [];
  }

  heapHistory(pid: number): HeapHistory {
    const k = this.known.get(pid);
    if (!k) return { readings: [] };
    return (k.history ??= { readings: k.heaps.toArray(), floors: k.floors.toArray() });
  }

  /** A probe's post-GC heap: a floor for the trend, and the freshest reading there is of a heap near its end. */
  postGc(pid: number, used: number, at: number): void {
    const k = this.known.get(pid);
    if (!k) return;
    k.floors.push({ t: at, v: used });
    k.history = undefined;
    if (k.heap && at > k.heap.at) {
      k.heap = { ...k.heap, at, used };
      this.opts.onHeap?.(pid, used / k.heap.limit);
    }
  }

  /** A new run starts with no history: its processes are new. */
  reset(): void {
    this.known.clear();
  }

  /** A longer trend window needs a longer heap history; the rings keep what fits. */
  resize(historySize: number): void {
    this.historySize = historySize;
    for (const k of this.known.values()) {
      k.heaps.resize(historySize);
      k.floors.resize(historySize);
      k.history = undefined;
    }
  }

  private sampleOne(
    p: ProcStat,
    isAgent: boolean,
    fds: number | undefined,
    connections: number | undefined,
    page: number,
    at: number,
  ): ProcessRecordView {
    let k = this.known.get(p.pid);
    if (!k || k.startTime !== p.startTime) {
      const rss = p.rssPages * page;
      k = {
        startTime: p.startTime,
        life: { pid: p.pid, ppid: p.ppid, role: p.comm, firstAt: at, lastAt: at, rss: { start: rss, peak: rss, end: rss }, probed: false },
        comm: p.comm,
        argv: readArgv(p.pid),
        cpuTicks: p.cpuTicks,
        at,
        rss: new PairRing(RSS_HISTORY_POINTS),
        heaps: new Ring(this.historySize),
        floors: new Ring(this.historySize),
        missed: 0,
      };
      this.known.set(p.pid, k);
    } else if (k.comm !== p.comm) {
      k.comm = p.comm;
      k.argv = readArgv(p.pid);
    }
    const elapsed = (at - k.at) / 1000;
    const cpuPercent = elapsed > 0 ? Math.round(((p.cpuTicks - k.cpuTicks) / USER_HZ / elapsed) * 1000) / 10 : 0;
    k.cpuTicks = p.cpuTicks;
    k.at = at;
    // process.argv leaves out node's own options (`node -e <code>` registers as just `node`): then /proc says more.
    const registered = this.opts.registeredArgv?.(p.pid);
    const argv = registered && registered.length > 1 ? registered : k.argv;
    const view: ProcessRecordView = {
      pid: p.pid,
      ppid: p.ppid,
      comm: p.comm,
      state: p.state,
      argv,
      role: this.roleFor(k, argv, p.comm, isAgent),
      isAgent,
      rssBytes: p.rssPages * page,
      threads: p.threads,
      cpuPercent,
    };
    if (fds !== undefined) k.fds = fds;
    if (connections !== undefined) k.sockets = connections;
    if (k.fds !== undefined) view.fds = k.fds;
    if (k.sockets !== undefined) view.sockets = k.sockets;
    k.rss.push(at, view.rssBytes);
    const { life } = k;
    life.role = view.role;
    life.argv = argv;
    life.ppid = p.ppid;
    life.lastAt = at;
    life.rss.end = view.rssBytes;
    life.rss.peak = Math.max(life.rss.peak, view.rssBytes);
    const instrumented = this.heaps?.has(p.pid) === true;
    if (!instrumented) return view;
    life.probed = true;
    if (this.heapDue(k, view.rssBytes, at)) this.readHeap(p.pid, k, view.rssBytes);
    if (k.heap) {
      view.heapUsed = k.heap.used;
      view.heapTotal = k.heap.total;
      view.heapLimit = k.heap.limit;
    }
    view.missedReplies = k.missed;
    return view;
  }

  private roleFor(k: Known, argv: string[] | undefined, comm: string, isAgent: boolean): string {
    const known = k.role;
    if (known && known.argv === argv && known.comm === comm && known.isAgent === isAgent) return known.name;
    k.role = { argv, comm, isAgent, name: roleOf(argv, comm, isAgent) };
    return k.role.name;
  }

  private heapDue(k: Known, rssBytes: number, at: number): boolean {
    if (k.reading) return false;
    const last = k.heap;
    return (
      !last ||
      // A process that did not answer is asked again at once: silence must be confirmed, or lifted, quickly.
      k.missed > 0 ||
      last.used / last.limit >= (this.opts.pressure?.() ?? 0) ||
      at - last.at >= HEAP_MAX_AGE_MS ||
      Math.abs(rssBytes - last.rssBytes) >= HEAP_RSS_DELTA_BYTES
    );
  }

  private readHeap(pid: number, k: Known, rssBytes: number): void {
    k.reading = this.heaps!.heap(pid).then(
      (h) => {
        const at = Date.now();
        k.heap = { at, rssBytes, used: h.used, total: h.total, limit: h.oldSpaceLimit ?? h.limit };
        k.heaps.push({ t: at, v: h.used });
        k.history = undefined;
        const { life } = k;
        life.probed = true;
        if (h.runtime) life.runtime = h.runtime;
        life.heap = life.heap
          ? { ...life.heap, peak: Math.max(life.heap.peak, h.used), end: h.used, limit: k.heap.limit }
          : { start: h.used, peak: h.used, end: h.used, limit: k.heap.limit };
        k.missed = 0;
        this.opts.onHeap?.(pid, h.used / k.heap.limit);
      },
      (err: unknown) => {
        // Blocked in a synchronous call, or gone: RSS stands in, and the policy hears of the silence.
        if (err instanceof TimeoutError) k.missed++;
        else k.heap = undefined;
      },
    ).finally(() => {
      k.reading = undefined;
    });
  }
}
