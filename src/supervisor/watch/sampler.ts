// One tick of observation: the run's processes from one pass over the process table (platform/), their RSS (and
// what it is made of), CPU, threads, fds and established TCP connections, the V8 heap of every instrumented node
// process, and system memory. CPU comes from the same pass that finds the tree (on Linux the /proc/<pid>/stat
// read), so a tick opens no file per process beyond it (pidusage would read that file again and keep it open).
import path from 'node:path';
import { TimeoutError } from '../../common/errors.js';
import type { IsolateSample, ProcessSample, TickSample } from './policy.js';
import { leakTrend, type HeapHistory, type Point, type Trend } from './trend.js';
import { offHeapGrowth, type OffHeapGrowth } from './offheap.js';
import { PairRing, Ring } from './ring.js';
import { nextReadDelay } from './read-cadence.js';
import { handleGrowth, type HandleGrowth, type HandleReading } from './handles.js';
import { pageSize, platform, readArgv, stillLiving, systemMemory, type ProcStat, type RssKinds } from '../../platform/index.js';
import { parseNodeArgs } from '../../common/node-argv.js';
import type { ProcessTree } from '../proc/tree.js';
import { MB } from '../../common/units.js';

/** What the sampler needs of a process's heap (probe-link/probe-sessions.ts and bun-sessions.ts provide it); thread 0 is the main thread. */
export interface HeapReader {
  has(pid: number, thread?: number): boolean;
  /** The worker threads of `pid` with a probe. */
  threads(pid: number): Iterable<number>;
  heap(pid: number, thread?: number): Promise<{
    used: number;
    total: number;
    limit: number;
    oldSpaceLimit?: number;
    /** Memory of JS objects held outside the V8 heap (Buffers, ArrayBuffers), where the reader knows it. */
    external?: number;
    /** The process is recording a sampling profile (its probe started at the first sign of pressure). */
    sampling?: boolean;
    /** Heap used after its latest major GC, and when (epoch ms). */
    lastGc?: { used: number; at: number };
    /** A Bun process (through its inspector link), not a probed node one. */
    runtime?: 'bun';
    arrayBuffers?: number;
    handles?: Record<string, number>;
  }>;
}

/** One heap reading, as a reader answers it. */
type HeapReading = Awaited<ReturnType<HeapReader['heap']>>;

export interface HistoryPoint {
  t: number;
  rssBytes: number;
}

export interface ProcessRecordView extends ProcessSample {
  comm: string;
  state: string;
  threads: number;
  cpuPercent: number;
}

export interface Tick extends TickSample {
  processes: ProcessRecordView[];
  durationMs: number;
}

// Linux reports CPU times in USER_HZ, fixed at 100 by its ABI whatever the kernel's own tick rate.
const USER_HZ = 100;
// Descriptors are counted on every tick by one stat of /proc/<pid>/fd, which is cheap; the portable backend has no
// such cheap count (lsof) and counts them with the connections alone. Counting connections lists that folder,
// reads each descriptor's link and reads /proc/net/tcp{,6}, which walks the kernel's whole connection hash (even
// every 10 s it was a large share of the supervisor's CPU at 50 processes: benchmarks/results/design-figures.md).
// Every connection is a descriptor, so connections are counted
// every 30 ticks while descriptor counts hold still, and every other tick while some process's count moves: 10
// new connections a second then pass each level (25, 50, 100 by default) on their way up, alerted in order.
// Counted in ticks, so that a shorter --interval, which asks for quicker reactions at a higher cost, gets them too.
const CONNECTIONS_EVERY_TICKS = 30;
const CONNECTIONS_MOVING_EVERY_TICKS = 2;
/** A process's descriptors changed by this many since its connections were counted: they are counted again. */
const FDS_MOVED = 2;
/** What RSS is made of is shown, not judged: read only now and then, as /proc/<pid>/status is not free for a tree. */
const RSS_KINDS_EVERY_TICKS = 15;
/** RSS − heap total points kept per process: the off-heap rule's window at a 1 s interval. */
const OFFHEAP_POINTS = 60;
// A point is kept when the value moved or this long after the last one: a process whose memory holds still (most
// of them, most of the time) adds no point, and its points are not handed out afresh each tick.
const OFFHEAP_MOVED_BYTES = 256 * 1024;
const OFFHEAP_EVERY_MS = 5000;
/** Handle readings kept per process: growth is told between the oldest and the newest. */
const HANDLE_READINGS = 16;

/** Whether connections are counted on this tick, `ticks` after the last count. */
export function connectionsDue(ticks: number, fdsMoved: boolean): boolean {
  return ticks >= CONNECTIONS_EVERY_TICKS || (fdsMoved && ticks >= CONNECTIONS_MOVING_EVERY_TICKS);
}
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
  /** Peaks of what it held outside the heap (Buffers, ArrayBuffers) and of its anonymous RSS. */
  offHeap?: { peakExternal: number; peakArrayBuffers: number };
  peakRssAnon?: number;
  /** It answered heap reads through the probe (or, a Bun process, its inspector link) at some point. */
  probed: boolean;
  runtime?: 'bun';
  /** Its worker threads that died of their heap (ERR_WORKER_OUT_OF_MEMORY). */
  workerOoms?: number;
  /** Its worker threads with a probe: how many were seen, and the largest heap any of them reached, with its limit. */
  workers?: { seen: number; peakHeap?: number; limit?: number };
}

/** One isolate's heap as read: the main thread's or a worker's. */
interface HeapWatch {
  /** Heap readings as they arrived. */
  heaps: Ring<Point>;
  /** The heap right after each major GC, as the probe reported it: what the leak trend is fitted on first. */
  floors: Ring<Point>;
  /** Both rings as handed out since their last change: a new object when they change. */
  history?: HeapHistory;
  /** The trend fitted on `history` with this window and limit: fitted again only when one of them changed. */
  fit?: { history: HeapHistory; windowMs: number; limit: number; trend: Trend | undefined };
  heap?: {
    at: number;
    rssBytes: number;
    /** Descriptors at the reading: when they move, the handles are read again. */
    fds?: number;
    used: number;
    total: number;
    limit: number;
    external?: number;
    arrayBuffers?: number;
  };
  /** A heap read in flight: at most one per isolate, so a blocked agent never piles up requests. */
  reading?: Promise<void>;
  /** The next reading of a heap that grows fast over the pressure fraction, due before the next tick. */
  soon?: NodeJS.Timeout;
  /** Heap reads in a row that got no answer in time. */
  missed: number;
}

interface Known extends HeapWatch {
  startTime: number;
  life: ProcessLife;
  /**
   * exec() keeps pid and start time: a process first seen between fork and exec has its parent's argv until its
   * comm changes, or, where exec keeps the comm (node starting node), until its argv is no longer its parent's.
   */
  comm: string;
  argv?: string[];
  cpuTicks: number;
  at: number;
  /** Open descriptors (every tick) and established TCP connections at the last count. */
  fds?: number;
  sockets?: number;
  /** Descriptors when connections were last counted (or when first seen): a change from it moves the count up. */
  countedFds?: number;
  rssKinds?: RssKinds;
  /** RSS − heap total at each tick with a heap reading: the off-heap rule's points. */
  offHeap: PairRing;
  offHeapLast?: Point;
  /** The growth fitted on the points: fitted again only once a point was added. */
  offHeapFit?: { growth: OffHeapGrowth | undefined };
  handles: Ring<HandleReading>;
  /** How the handle counts grew from the oldest reading kept to the newest. */
  handlesGrew?: HandleGrowth;
  /** RSS history: (t, rssBytes) pairs, handed out as HistoryPoints. */
  rss: PairRing;
  /** The role, and what it was worked out from (it changes at exec or registration, not every tick). */
  role?: { argv: string[] | undefined; comm: string; isAgent: boolean; name: string };
  /** Its worker threads with a probe, by threadId: only those registered now. */
  workers?: Map<number, HeapWatch>;
}

export interface SamplerOptions {
  historySize: number;
  /** The argv a node process registered with: /proc's cmdline follows process.title (npm rewrites it). */
  registeredArgv?: (pid: number) => string[] | undefined;
  /** Heap used ÷ limit from which a process's heap is read on every tick (the warning fraction). */
  pressure?: () => number;
  /** The tick's interval now: a heap over the pressure fraction that grows fast is read again before it. */
  intervalMs?: () => number;
  /** A heap reading arrived: the watcher decides at once on one under pressure instead of a tick later. */
  onHeap?: (pid: number, fraction: number) => void;
  /** The trend window for a process of this role (its role's rule, else the global one). */
  trendWindowMs: (role: string) => number;
  /** A process of the run is gone (or the run ended with it still there); `node`: it was a node process. */
  onEnded?: (life: ProcessLife, endedWithRun: boolean, node: boolean) => void;
}

/**
 * Every tick is one synchronous /proc pass: RSS, fd and connection rules never wait for an agent. Heap reads run
 * beside it, one in flight per process with the call's own deadline, and their answers feed the next tick.
 */
export class Sampler {
  private readonly known = new Map<number, Known>();
  /** Ticks since connections were last counted: the first tick counts them. */
  private connectionsAge = Infinity;
  private rssKindsAge = Infinity;
  private historySize: number;
  private readHeaps = true;

  constructor(
    private readonly tree: ProcessTree,
    private readonly heaps: HeapReader | undefined,
    private readonly opts: SamplerOptions,
  ) {
    this.historySize = opts.historySize;
  }

  /**
   * `readHeaps`: false for a tick that decides on a reading that just arrived. Starting the next reading there
   * would ask again the moment an answer came, a loop as fast as the probe answers for as long as a heap stays
   * over the pressure fraction (an agent hovering at 75% of its limit for hours).
   */
  tick(agentPid: number | undefined, readHeaps = true): Tick {
    this.readHeaps = readHeaps;
    const started = performance.now();
    const at = Date.now();
    const members = this.tree.scan();
    const os = platform();
    const fds = new Map(members.map((p) => [p.pid, os.fdCount(p.pid)]));
    const connections = connectionsDue(++this.connectionsAge, this.fdsMoved(fds)) ? this.countConnections(members.map((p) => p.pid), fds) : undefined;
    const kinds = ++this.rssKindsAge >= RSS_KINDS_EVERY_TICKS;
    if (kinds) this.rssKindsAge = 0;
    const page = pageSize();
    const processes = members.map((p) => this.sampleOne(p, p.pid === agentPid, fds.get(p.pid), connections?.get(p.pid), kinds, page, at));
    const alive = new Set(members.map((p) => p.pid));
    for (const [pid, k] of this.known) {
      if (alive.has(pid)) continue;
      this.ended(k, false);
      this.known.delete(pid);
    }
    return { at, processes, system: systemMemory(), durationMs: performance.now() - started };
  }

  /**
   * A node process registered its probe: known from now on, not from the next tick. One that dies of its heap
   * within a tick of its start (a child leaking fast) is still ended, with its line and its fate, at that tick.
   */
  registered(pid: number, agentPid: number | undefined, argv: string[]): void {
    if (this.known.has(pid)) return;
    const p = platform().readStat(pid);
    if (!p || p.state === 'Z') return;
    const k = this.newKnown(p, pageSize(), Date.now());
    k.life.argv = argvOf(argv, k);
    k.life.role = this.roleFor(k, k.life.argv, p.comm, pid === agentPid);
  }

  private newKnown(p: ProcStat, page: number, at: number): Known {
    const rss = p.rssPages * page;
    const k: Known = {
      startTime: p.startTime,
      life: { pid: p.pid, ppid: p.ppid, role: p.comm, firstAt: at, lastAt: at, rss: { start: rss, peak: rss, end: rss }, probed: false },
      comm: p.comm,
      argv: readArgv(p.pid),
      cpuTicks: p.cpuTicks,
      at,
      rss: new PairRing(RSS_HISTORY_POINTS),
      heaps: new Ring(this.historySize),
      floors: new Ring(this.historySize),
      offHeap: new PairRing(OFFHEAP_POINTS),
      handles: new Ring(HANDLE_READINGS),
      missed: 0,
    };
    this.known.set(p.pid, k);
    return k;
  }

  private fdsMoved(fds: Map<number, number | undefined>): boolean {
    for (const [pid, n] of fds) {
      const counted = this.known.get(pid)?.countedFds;
      if (n !== undefined && counted !== undefined && Math.abs(n - counted) >= FDS_MOVED) return true;
    }
    return false;
  }

  /** Established TCP connections of each process; the descriptors counted with them are its new count. */
  private countConnections(pids: number[], fds: Map<number, number | undefined>): Map<number, number | undefined> {
    this.connectionsAge = 0;
    const counted = platform().descriptors(pids);
    for (const [pid, d] of counted) if (d.fds !== undefined) fds.set(pid, d.fds);
    return new Map([...counted].map(([pid, d]) => [pid, d.connections]));
  }

  /**
   * The run is over (its agent exited): what still lives ends with it; what died since the last tick, the agent
   * among them, exited on its own.
   */
  finish(): void {
    for (const k of this.known.values()) this.ended(k, stillLiving(k.life.pid, k.startTime) !== undefined);
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


  /** A worker thread of `pid` died of its heap: counted in the process's life; undefined when it is not known. */
  workerOom(pid: number): ProcessLife | undefined {
    const life = this.known.get(pid)?.life;
    if (life) life.workerOoms = (life.workerOoms ?? 0) + 1;
    return life;
  }


  private isolate(pid: number, thread: number): HeapWatch | undefined {
    const k = this.known.get(pid);
    return thread ? k?.workers?.get(thread) : k;
  }

  /** A probe's post-GC heap: a floor for the trend, and the freshest reading there is of a heap near its end. */
  postGc(pid: number, used: number, at: number, thread = 0): void {
    const k = this.isolate(pid, thread);
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
      for (const w of [k, ...(k.workers?.values() ?? [])]) {
        w.heaps.resize(historySize);
        w.floors.resize(historySize);
        w.history = undefined;
      }
    }
  }

  private sampleOne(
    p: ProcStat,
    isAgent: boolean,
    fds: number | undefined,
    connections: number | undefined,
    kinds: boolean,
    page: number,
    at: number,
  ): ProcessRecordView {
    let k = this.known.get(p.pid);
    if (!k || k.startTime !== p.startTime) {
      k = this.newKnown(p, page, at);
    } else if (k.comm !== p.comm || this.mayBeBeforeExec(k, p.ppid) || this.argvUnread(k, p.state)) {
      k.comm = p.comm;
      k.argv = readArgv(p.pid);
    }
    const elapsed = (at - k.at) / 1000;
    const cpuPercent = elapsed > 0 ? Math.round(((p.cpuTicks - k.cpuTicks) / USER_HZ / elapsed) * 1000) / 10 : 0;
    k.cpuTicks = p.cpuTicks;
    k.at = at;
    const argv = argvOf(this.opts.registeredArgv?.(p.pid), k);
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
    if (fds !== undefined) k.countedFds ??= fds;
    if (connections !== undefined) {
      k.sockets = connections;
      k.countedFds = fds;
    }
    if (kinds) this.readKinds(k, p.pid);
    if (k.rssKinds) {
      view.rssAnon = k.rssKinds.anon;
      view.rssFile = k.rssKinds.file;
      view.rssShmem = k.rssKinds.shmem;
    }
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
    if (this.heapDue(k, view.rssBytes, at, k.fds)) this.readHeap(p.pid, k, view.rssBytes, 0, (h, at) => this.mainRead(k, h, at));
    if (k.heap) {
      view.heapUsed = k.heap.used;
      view.heapTotal = k.heap.total;
      view.heapLimit = k.heap.limit;
      if (k.heap.external !== undefined) view.external = k.heap.external;
      if (k.heap.arrayBuffers !== undefined) view.arrayBuffers = k.heap.arrayBuffers;
      this.offHeapPoint(k, at, view.rssBytes - k.heap.total);
      const trend = this.trendOf(k, view.role);
      if (trend) view.trend = trend;
      const growth = (k.offHeapFit ??= { growth: offHeapGrowth(k.offHeap.map((t, v) => ({ t, v }))) }).growth;
      if (growth) view.offHeapGrowth = growth;
    }
    const handles = k.handles.last();
    if (handles) view.handles = handles.counts;
    if (k.handlesGrew) view.handlesGrew = k.handlesGrew;
    view.missedReplies = k.missed;
    const workers = this.sampleWorkers(p.pid, k, view.rssBytes, at, view.role);
    if (workers) view.workers = workers;
    return view;
  }

  private lived(life: ProcessLife, used: number, limit: number, runtime?: 'bun'): void {
    life.probed = true;
    if (runtime) life.runtime = runtime;
    life.heap = life.heap ? { ...life.heap, peak: Math.max(life.heap.peak, used), end: used, limit } : { start: used, peak: used, end: used, limit };
  }

  /** Each worker isolate with a probe, read as the main thread is; those gone are forgotten. */
  private sampleWorkers(pid: number, k: Known, rssBytes: number, at: number, role: string): IsolateSample[] | undefined {
    const threads = [...this.heaps!.threads(pid)];
    if (threads.length === 0 && !k.workers) return undefined;
    const kept = new Map<number, HeapWatch>();
    const samples = threads.map((thread) => {
      const w = k.workers?.get(thread) ?? this.newWorker(k.life);
      kept.set(thread, w);
      if (this.heapDue(w, rssBytes, at)) this.readHeap(pid, w, rssBytes, thread, (h) => workerLived(k.life, h.used, h.oldSpaceLimit ?? h.limit));
      const sample: IsolateSample = { thread, missedReplies: w.missed };
      if (w.heap) Object.assign(sample, { heapUsed: w.heap.used, heapTotal: w.heap.total, heapLimit: w.heap.limit });
      const trend = this.trendOf(w, role);
      if (trend) sample.trend = trend;
      return sample;
    });
    k.workers = kept.size > 0 ? kept : undefined;
    return samples.length > 0 ? samples : undefined;
  }

  /**
   * An isolate's leak trend, fitted where the sample is made so that the policy, the views and the metrics read one
   * answer; fitted again only when its history, its role's window or its heap limit changed.
   */
  private trendOf(w: HeapWatch, role: string): Trend | undefined {
    const limit = w.heap?.limit;
    if (!limit) return undefined;
    const windowMs = this.opts.trendWindowMs(role);
    const history = (w.history ??= { readings: w.heaps.toArray(), floors: w.floors.toArray() });
    const fit = w.fit;
    if (fit?.history === history && fit.windowMs === windowMs && fit.limit === limit) return fit.trend;
    w.fit = { history, windowMs, limit, trend: leakTrend(history, limit, { windowMs }) };
    return w.fit.trend;
  }

  /** A child whose argv is its parent's may not have exec'd yet (or never does: read again, one small read). */
  /** Read in the middle of an exec (the new image's arguments not yet set), the command line is empty: not an answer. */
  private argvUnread(k: Known, state: string): boolean {
    return !k.argv?.length && state !== 'Z';
  }

  private mayBeBeforeExec(k: Known, ppid: number): boolean {
    const parent = this.known.get(ppid)?.argv;
    return k.argv !== undefined && parent !== undefined && k.argv.length === parent.length && k.argv.every((a, i) => a === parent[i]);
  }

  private roleFor(k: Known, argv: string[] | undefined, comm: string, isAgent: boolean): string {
    const known = k.role;
    if (known && known.argv === argv && known.comm === comm && known.isAgent === isAgent) return known.name;
    k.role = { argv, comm, isAgent, name: roleOf(argv, comm, isAgent) };
    return k.role.name;
  }

  private newWorker(life: ProcessLife): HeapWatch {
    life.workers = { ...life.workers, seen: (life.workers?.seen ?? 0) + 1 };
    return { heaps: new Ring<Point>(this.historySize), floors: new Ring<Point>(this.historySize), missed: 0 };
  }

  /** `fds`: the process's descriptors now, for its main thread's reading (a worker's has none of its own). */
  private heapDue(k: HeapWatch, rssBytes: number, at: number, fds?: number): boolean {
    if (k.reading || !this.readHeaps) return false;
    const last = k.heap;
    return (
      !last ||
      // A process that did not answer is asked again at once: silence must be confirmed, or lifted, quickly.
      k.missed > 0 ||
      last.used / last.limit >= (this.opts.pressure?.() ?? 0) ||
      at - last.at >= HEAP_MAX_AGE_MS ||
      Math.abs(rssBytes - last.rssBytes) >= HEAP_RSS_DELTA_BYTES ||
      // Descriptors that move are handles that move: the alert about them names their types as they are now.
      Math.abs((fds ?? 0) - (last.fds ?? fds ?? 0)) >= FDS_MOVED
    );
  }

  private offHeapPoint(k: Known, t: number, v: number): void {
    const last = k.offHeapLast;
    if (last && Math.abs(v - last.v) < OFFHEAP_MOVED_BYTES && t - last.t < OFFHEAP_EVERY_MS) return;
    k.offHeapLast = { t, v };
    k.offHeap.push(t, v);
    k.offHeapFit = undefined;
  }

  private readKinds(k: Known, pid: number): void {
    const kinds = platform().rssKinds(pid);
    if (!kinds) return;
    k.rssKinds = kinds;
    k.life.peakRssAnon = Math.max(k.life.peakRssAnon ?? 0, kinds.anon);
  }

  /** What a main thread's heap reading adds to its process: its life's peaks, its handles by type. */
  private mainRead(k: Known, h: HeapReading, at: number): void {
    const { life } = k;
    if (k.heap) k.heap.fds = k.fds;
    this.lived(life, h.used, h.oldSpaceLimit ?? h.limit, h.runtime);
    if (h.handles) {
      const reading = { at, counts: h.handles };
      k.handles.push(reading);
      k.handlesGrew = handleGrowth(k.handles.toArray()[0]!, reading);
    }
    if (h.external !== undefined && h.arrayBuffers !== undefined) {
      life.offHeap = {
        peakExternal: Math.max(life.offHeap?.peakExternal ?? 0, h.external),
        peakArrayBuffers: Math.max(life.offHeap?.peakArrayBuffers ?? 0, h.arrayBuffers),
      };
    }
  }

  private readHeap(pid: number, k: HeapWatch, rssBytes: number, thread: number, read?: (h: HeapReading, at: number) => void): void {
    k.reading = this.heaps!.heap(pid, thread).then(
      (h) => {
        const at = Date.now();
        const prev = k.heaps.last();
        k.heap = { at, rssBytes, used: h.used, total: h.total, limit: h.oldSpaceLimit ?? h.limit, external: h.external, arrayBuffers: h.arrayBuffers };
        k.heaps.push({ t: at, v: h.used });
        k.history = undefined;
        read?.(h, at);
        k.missed = 0;
        this.opts.onHeap?.(pid, h.used / k.heap.limit);
        this.readSoon(pid, k, prev, rssBytes, thread, read);
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

  /** A heap over the pressure fraction that grows fast: read again as its growth asks (read-cadence.ts). */
  private readSoon(pid: number, k: HeapWatch, prev: Point | undefined, rssBytes: number, thread: number, read?: (h: HeapReading, at: number) => void): void {
    const heap = k.heap;
    const interval = this.opts.intervalMs?.();
    if (!heap || interval === undefined || heap.used / heap.limit < (this.opts.pressure?.() ?? 1)) return;
    const delay = nextReadDelay(prev, { t: heap.at, v: heap.used }, heap.limit, interval);
    if (delay === undefined) return;
    clearTimeout(k.soon);
    k.soon = setTimeout(() => {
      k.soon = undefined;
      // Gone, ended with its run, or its worker thread gone: the timer outlived what it was for.
      if (this.isolate(pid, thread) === k && !k.reading) this.readHeap(pid, k, rssBytes, thread, read);
    }, delay);
    k.soon.unref();
  }
}

/** process.argv leaves out node's own options (`node -e <code>` registers as just `node`): then /proc says more. */
function argvOf(registered: string[] | undefined, k: Known): string[] | undefined {
  return registered && registered.length > 1 ? registered : k.argv;
}

function workerLived(life: ProcessLife, used: number, limit: number): void {
  const w = life.workers ?? { seen: 1 };
  if (w.peakHeap === undefined || used > w.peakHeap) life.workers = { ...w, peakHeap: used, limit };
}
