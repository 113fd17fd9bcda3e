// Pure: (state, sample, thresholds) → (state, actions). Levels are computed per process and metric and for
// the whole tree; actions fire on level *changes*, never on every tick, so a process hovering at critical
// yields one alert and one capture request (the executor's cooldown decides about repeats). A level rises at
// once and goes down only after the value stayed clearly below it for a while, so a value see-sawing across a
// line (a heap between GCs) raises one alert, not one per crossing.
import type { SystemMemory } from '../../platform/sysmem.js';
import { thresholdsFor } from './roles.js';
import type { Trend } from './trend.js';
import type { OffHeapGrowth } from './offheap.js';
import { handlesText, type HandleGrowth } from './handles.js';
import { MB } from '../../common/units.js';
import type { Config } from '../../config/config.js';
import { isolateKey } from '../probe-link/isolate.js';

export const LEVELS = ['ok', 'info', 'warning', 'critical', 'imminent', 'hard'] as const;
export type Level = (typeof LEVELS)[number];
export const rank = (l: Level) => LEVELS.indexOf(l);

export type Metric = 'rss' | 'heap' | 'fds' | 'sockets' | 'trend' | 'offheap' | 'unresponsive';
/** In the order their alerts are raised within one process's tick. */
const METRICS: readonly Metric[] = ['rss', 'heap', 'trend', 'offheap', 'fds', 'unresponsive', 'sockets'];

export interface ProcessSample {
  pid: number;
  ppid: number;
  role: string;
  argv?: string[];
  /** The process the supervisor spawned: ending it ends the run. */
  isAgent: boolean;
  rssBytes: number;
  /** Only for node processes with an inspector session. */
  heapUsed?: number;
  /** The old-space limit (--max-old-space-size): what a heap dies at, unlike heap_size_limit. */
  heapLimit?: number;
  /** V8's heap as allocated (used plus free space): RSS minus this is what the process holds outside it. */
  heapTotal?: number;
  /** Buffers and ArrayBuffers outside the heap (process.memoryUsage()), from the probe. */
  external?: number;
  arrayBuffers?: number;
  /** Active handles by type, and their growth over the recent readings, from the probe. */
  handles?: Record<string, number>;
  handlesGrew?: HandleGrowth;
  /** Anonymous, file-backed and shared RSS (/proc/<pid>/status), read every few ticks. */
  rssAnon?: number;
  rssFile?: number;
  rssShmem?: number;
  fds?: number;
  sockets?: number;
  /** Heap reads in a row that got no answer in time (instrumented processes only). */
  missedReplies?: number;
  /** Its worker threads with a probe: each an isolate with its own heap and limit, judged on its own. */
  workers?: IsolateSample[];
  /** The leak trend of its heap: see IsolateSample. */
  trend?: Trend;
  /** How what it holds outside the heap (RSS − heap total) grows, fitted on its history when the sample is made. */
  offHeapGrowth?: OffHeapGrowth;
}

/** A worker thread's isolate: heap rules, trend and silence apply to it as to a process's main thread. */
export interface IsolateSample {
  thread: number;
  heapUsed?: number;
  heapTotal?: number;
  heapLimit?: number;
  missedReplies?: number;
  /**
   * The leak trend of its heap, fitted once per tick where the sample is made, on its history over its role's trend
   * window; undefined without a heap limit or enough readings. Trusted or not: the readers decide (trustedTrend).
   */
  trend?: Trend;
}

export interface TickSample {
  at: number;
  processes: ProcessSample[];
  system: SystemMemory;
}

/** The config's thresholds, in the config's own names and units (src/config/config.ts). */
export const THRESHOLD_KEYS = [
  'warningMb',
  'criticalMb',
  'hardMb',
  'treeWarningMb',
  'treeCriticalMb',
  'treeHardMb',
  'heapWarning',
  'heapCritical',
  'heapImminent',
  'fdWarning',
  'connInfo',
  'connWarning',
  'connCritical',
  'trendWindowMs',
  'trendMinMbPerMin',
  'trendHorizonMin',
  'offheapWarningMbPerMin',
  'offheapCriticalMbPerMin',
  'clearAfterMs',
  'roles',
] as const satisfies readonly (keyof Config)[];
export type Thresholds = Pick<Config, (typeof THRESHOLD_KEYS)[number]>;

/**
 * The thresholds alone, as a view may show them. What is handed around as Thresholds is often the whole Config
 * (alert webhooks and commands with their credentials among it): a view copies these keys, never the object.
 */
export const thresholdsOnly = (t: Thresholds): Thresholds => Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, t[k]])) as Thresholds;

/** A trend is trusted (alerted on, shown) only when its fit is at least this good. */
export const TREND_MIN_CONFIDENCE = 0.8;
/** A sample's leak trend, when its fit is good enough to show and to count. */
export function trustedTrend(trend: Trend | undefined): Trend | undefined {
  return trend && trend.confidence >= TREND_MIN_CONFIDENCE ? trend : undefined;
}

/** The trend settings a leak is judged by (--trend-window, --trend-min-rate, --trend-horizon). */
export type TrendRule = Pick<Thresholds, 'trendWindowMs' | 'trendMinMbPerMin' | 'trendHorizonMin'>;

/**
 * A leak: the floor rises at least at the minimum rate, with a trusted fit, towards an OOM within the horizon. Once
 * raised, it holds until growth falls to half the rate that raised it (hysteresis).
 */
export function leaking(trend: Trend, rule: Omit<TrendRule, 'trendWindowMs'>, raised = false): boolean {
  const minRate = raised ? rule.trendMinMbPerMin / 2 : rule.trendMinMbPerMin;
  return trend.mbPerMin >= minRate && trend.confidence >= TREND_MIN_CONFIDENCE && trend.oomInMin !== undefined && trend.oomInMin <= rule.trendHorizonMin;
}

/** Why the policy asks for a capture when a leak trend is raised. */
export const TREND_CAPTURE = 'heap-trend';

/**
 * How long a trend capture samples a process that was not sampling yet: a quarter of the time left before the
 * OOM, 5 to 30 s. A slow leak adds little per second among much short-lived garbage (30 MB/min is 2.5 MB in
 * 5 s), so its allocation site needs a long look; a fast one must be caught before it ends the process.
 */
export function trendCaptureSeconds(oomInMin: number | undefined): number {
  if (oomInMin === undefined) return 30;
  return Math.round(Math.min(30, Math.max(5, (oomInMin * 60) / 4)));
}

/** Heap reads in a row without an answer before a process is reported unresponsive (blocked or hung). */
export const UNRESPONSIVE_READS = 3;

export type Action =
  | {
      kind: 'alert';
      level: Level;
      metric: Metric | 'tree';
      pid?: number;
      /** A worker thread's isolate of `pid`. */
      thread?: number;
      role?: string;
      argv?: string[];
      message: string;
      value: number;
      threshold: number;
      unit: string;
      trend?: Trend;
      /** Figures the alert's line carries besides its value (off-heap memory, handles by type). */
      details?: Record<string, unknown>;
    }
  /** urgent: the newest evidence before an imminent OOM, not held back by an earlier capture's cooldown. */
  /** snapshot: a heap snapshot rather than a sampling profile (off-heap growth: a profile samples only the heap). */
  | { kind: 'capture'; pid: number; thread?: number; reason: string; urgent?: boolean; coldSeconds?: number; snapshot?: boolean }
  | { kind: 'gc'; pid: number; thread?: number; reason: string }
  | { kind: 'cleanup'; reason: string }
  | { kind: 'terminate'; pid: number; reason: string }
  | { kind: 'restart'; reason: string };

/** A value under its level (past the margin): since when, and on how many ticks in a row. */
export interface Below {
  since: number;
  ticks: number;
}

export interface PolicyState {
  /** By isolateKey: a process (its main thread) or a worker thread's isolate. */
  processes: ReadonlyMap<string, Readonly<Partial<Record<Metric, Level>>>>;
  tree: Level;
  /** Levels waiting to go down, by `<isolate>:<metric>` and `tree`; only levels above what the value reaches now. */
  below: ReadonlyMap<string, Below>;
}

export const initialPolicyState: PolicyState = { processes: new Map(), tree: 'ok', below: new Map() };

/** Ticks in a row a value must be below its level before the level goes down (also with no hold time set). */
export const CLEAR_TICKS = 2;

/**
 * The level to hold: what the value reaches when that is not lower; the previous level until the value has been
 * below it for CLEAR_TICKS ticks and `holdMs`. `below` is the pending descent to carry to the next tick.
 */
export function settle(prev: Level, reached: Level, below: Below | undefined, at: number, holdMs: number): { level: Level; below?: Below } {
  if (rank(reached) >= rank(prev)) return { level: reached };
  const next = below ? { since: below.since, ticks: below.ticks + 1 } : { since: at, ticks: 1 };
  if (next.ticks >= CLEAR_TICKS && at - next.since >= holdMs) return { level: reached };
  return { level: prev, below: next };
}

export interface PolicyInput {
  /** The tick's processes, each with its trends fitted where the sample was made. */
  sample: TickSample;
}

interface Reading {
  level: Level;
  value: number;
  threshold: number;
  unit: string;
  trend?: Trend;
}

/**
 * A level, once reached, holds until the value falls this far below its threshold: a heap that hovers at 85 %
 * (sawing around the line with every GC) stays critical instead of alerting critical, warning, critical.
 */
const HYSTERESIS = 0.05;

/** The highest of (threshold, level) pairs that `value` reaches; ok with the lowest threshold otherwise. */
function step(value: number, unit: string, steps: readonly Step[], prev: Level = 'ok'): Reading {
  let lowest = 0;
  for (let i = steps.length - 1; i >= 0; i--) {
    const [threshold, level] = steps[i]!;
    if (threshold <= 0) continue;
    lowest = threshold;
    const holds = rank(level) <= rank(prev) ? threshold * (1 - HYSTERESIS) : threshold;
    if (value >= holds) return { level, value, threshold, unit };
  }
  return { level: 'ok', value, threshold: lowest, unit };
}

type Step = readonly [threshold: number, level: Level];

interface Steps {
  rss: Step[];
  heap: Step[];
  fds: Step[];
  sockets: Step[];
  offheap: Step[];
  tree: Step[];
}

// Every process is judged on every tick: the step tables of a set of thresholds are built once (a role rule makes
// a new set, which gets its own).
const stepTables = new WeakMap<Thresholds, Steps>();
const UNRESPONSIVE_STEPS: Step[] = [[UNRESPONSIVE_READS, 'warning']];

function stepsOf(t: Thresholds): Steps {
  let steps = stepTables.get(t);
  if (!steps) {
    steps = {
      rss: [[t.warningMb, 'warning'], [t.criticalMb, 'critical'], [t.hardMb, 'hard']],
      heap: [[t.heapWarning, 'warning'], [t.heapCritical, 'critical'], [t.heapImminent, 'imminent']],
      fds: [[t.fdWarning + 1, 'warning']],
      sockets: [[t.connInfo, 'info'], [t.connWarning, 'warning'], [t.connCritical, 'critical']],
      offheap: [[t.offheapWarningMbPerMin, 'warning'], [t.offheapCriticalMbPerMin, 'critical']],
      tree: [[t.treeWarningMb, 'warning'], [t.treeCriticalMb, 'critical'], [t.treeHardMb, 'hard']],
    };
    stepTables.set(t, steps);
  }
  return steps;
}

function readings(p: ProcessSample, t: Thresholds, prev: Partial<Record<Metric, Level>>): Partial<Record<Metric, Reading>> {
  const steps = stepsOf(t);
  const r: Partial<Record<Metric, Reading>> = {
    rss: step(Math.round(p.rssBytes / MB), 'MB', steps.rss, prev.rss),
    ...isolateReadings(p, t, prev),
  };
  const growth = p.offHeapGrowth;
  if (growth) {
    const reading = step(growth.mbPerMin, 'MB/min', steps.offheap, prev.offheap);
    r.offheap = growth.growing ? reading : { ...reading, level: 'ok' };
  }
  if (p.fds !== undefined) r.fds = step(p.fds, 'fds', steps.fds);
  if (p.sockets !== undefined) r.sockets = step(p.sockets, 'connections', steps.sockets);
  return r;
}

/** What one isolate's heap reaches: a process's main thread or a worker thread. */
function isolateReadings(
  p: Omit<IsolateSample, 'thread'>,
  t: Thresholds,
  prev: Partial<Record<Metric, Level>>,
): Partial<Record<Metric, Reading>> {
  const prevTrend = prev.trend;
  const steps = stepsOf(t);
  const r: Partial<Record<Metric, Reading>> = {};
  if (p.heapUsed !== undefined && p.heapLimit) {
    const frac = Math.round((p.heapUsed / p.heapLimit) * 1000) / 1000;
    r.heap = step(frac, 'fraction of old-space limit', steps.heap, prev.heap);
    const { trend } = p;
    if (trend) {
      r.trend = { level: leaking(trend, t, prevTrend === 'warning') ? 'warning' : 'ok', value: Math.round(trend.mbPerMin * 10) / 10, threshold: t.trendMinMbPerMin, unit: 'MB/min', trend };
    }
  }
  if (p.missedReplies !== undefined) r.unresponsive = step(p.missedReplies, 'unanswered heap reads', UNRESPONSIVE_STEPS);
  return r;
}

function describe(metric: Metric, p: ProcessSample, thread: number, r: Reading, prev: Level): string {
  const who = thread ? `${p.role} (pid ${p.pid}, worker thread ${thread})` : `${p.role} (pid ${p.pid})`;
  if (r.level === 'ok') return `${who}: ${metric} back to normal (${r.value} ${r.unit}, was ${prev})`;
  switch (metric) {
    case 'trend': {
      const oom = r.trend?.oomInMin;
      return `${who}: heap grows ${r.value} MB/min, OOM in ~${oom === undefined ? '?' : Math.max(1, Math.round(oom))} min`;
    }
    case 'unresponsive':
      return `${who}: not answering (${r.value} heap reads in a row got no reply: blocked in synchronous code or hung); RSS still watched`;
    case 'offheap':
      return (
        `${who}: memory outside the V8 heap grows ${r.value} MB/min (RSS ${Math.round(p.rssBytes / MB)} MB, heap ${Math.round((p.heapTotal ?? 0) / MB)} MB` +
        `${p.arrayBuffers === undefined ? '' : `, ArrayBuffers ${Math.round(p.arrayBuffers / MB)} MB`}): Buffers, ArrayBuffers or native memory, not the heap`
      );
    case 'fds':
    case 'sockets': {
      const handles = handlesText(p.handles, p.handlesGrew);
      return `${who}: ${metric} ${r.value} ${r.unit} (${r.level} at ${r.threshold})${handles ? `; handles ${handles}` : ''}`;
    }
    case 'heap':
      return `${who}: heap at ${Math.round(r.value * 100)}% of its old-space limit (${r.level} at ${Math.round(r.threshold * 100)}%)`;
    default:
      return `${who}: ${metric} ${r.value} ${r.unit} (${r.level} at ${r.threshold})`;
  }
}

/** What a node process holds outside its heap anyway (code, ICU, libuv, V8's own), about this much in agents. */
const OFFHEAP_BASELINE = 128 * MB;

/**
 * Most of the process's memory is outside its V8 heap, well beyond what any node process holds there: a sampling
 * profile, which sees only the heap, would come back empty, and a snapshot of the small heap is cheap and names
 * what holds the Buffers. Bytes.
 */
export function mostlyOffHeap(heapTotal: number | undefined, rss: number): boolean {
  return heapTotal !== undefined && rss - heapTotal > heapTotal + OFFHEAP_BASELINE;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round(bytes / MB));

/** What an alert's line carries besides its value: where the memory is, or which handles grew. */
function detailsOf(metric: Metric, p: ProcessSample): { details?: Record<string, unknown> } {
  if (metric === 'offheap') {
    return { details: { rss_mb: mb(p.rssBytes), heap_total_mb: mb(p.heapTotal), external_mb: mb(p.external), array_buffers_mb: mb(p.arrayBuffers) } };
  }
  if ((metric === 'fds' || metric === 'sockets') && p.handles) {
    return { details: { handles: p.handles, ...(p.handlesGrew ? { handles_grew: p.handlesGrew.by, handles_grew_seconds: p.handlesGrew.seconds } : {}) } };
  }
  return {};
}

function largest(processes: ProcessSample[]): ProcessSample | undefined {
  const size = (p: ProcessSample) => p.heapUsed ?? p.rssBytes;
  return processes.reduce<ProcessSample | undefined>((a, b) => (!a || size(b) > size(a) ? b : a), undefined);
}

export function decide(state: PolicyState, input: PolicyInput, t: Thresholds): { state: PolicyState; actions: Action[] } {
  const actions: Action[] = [];
  const processes = new Map<string, Partial<Record<Metric, Level>>>();
  const below = new Map<string, Below>();
  const { at } = input.sample;
  /** The level `key` holds now, its pending descent kept for the next tick. */
  const held = (key: string, prev: Level, reached: Level, holdMs: number): Level => {
    const s = settle(prev, reached, state.below.get(key), at, holdMs);
    if (s.below) below.set(key, s.below);
    return s.level;
  };
  /** Levels and actions of one isolate of `p`: its main thread (thread 0) or a worker thread. */
  const judge = (p: ProcessSample, thread: number, pt: Thresholds, read: (prev: Partial<Record<Metric, Level>>) => Partial<Record<Metric, Reading>>): void => {
    const key = isolateKey(p.pid, thread);
    const prevLevels = state.processes.get(key) ?? {};
    const levels: Partial<Record<Metric, Level>> = {};
    const rs = read(prevLevels);
    const on = thread ? { pid: p.pid, thread } : { pid: p.pid };
    for (const metric of METRICS) {
      const reading = rs[metric];
      if (!reading) {
        // A heap still read whose trend was not fitted this tick (too few readings in the window) is no news of the
        // leak: its level holds, pending descent too, so that the trend's return is not a second alert.
        if (metric === 'trend' && rs.heap && prevLevels.trend) {
          levels.trend = prevLevels.trend;
          const pending = state.below.get(`${key}:trend`);
          if (pending) below.set(`${key}:trend`, pending);
        }
        continue;
      }
      const prev = prevLevels[metric] ?? 'ok';
      const r = { ...reading, level: held(`${key}:${metric}`, prev, reading.level, pt.clearAfterMs) };
      levels[metric] = r.level;
      if (r.level === prev) continue;
      actions.push({
        kind: 'alert',
        level: r.level === 'ok' ? 'info' : r.level,
        metric,
        ...on,
        role: p.role,
        argv: p.argv,
        message: describe(metric, p, thread, r, prev),
        value: r.value,
        threshold: r.threshold,
        unit: r.unit,
        ...(r.trend ? { trend: r.trend } : {}),
        ...detailsOf(metric, p),
      });
      if (rank(r.level) <= rank(prev)) continue;
      // The heap's sampling profile cannot see Buffers: a snapshot can, through what holds them.
      if (metric === 'offheap') actions.push({ kind: 'capture', pid: p.pid, reason: `offheap-${r.level}`, snapshot: true });
      // A leak found by its trend is the slow-leak equivalent of the pre-OOM capture: evidence, under the cooldown.
      if (metric === 'trend') actions.push({ kind: 'capture', ...on, reason: TREND_CAPTURE, coldSeconds: trendCaptureSeconds(r.trend?.oomInMin) });
      if (metric !== 'rss' && metric !== 'heap') continue;
      // A process whose RSS is mostly outside its heap: a snapshot names what holds it, a profile could not.
      const snapshot = metric === 'rss' && mostlyOffHeap(p.heapTotal, p.rssBytes) ? { snapshot: true } : {};
      if (r.level === 'critical') actions.push({ kind: 'capture', ...on, reason: `${metric}-critical`, ...snapshot });
      if (r.level === 'imminent') actions.push({ kind: 'capture', ...on, reason: `${metric}-imminent`, urgent: true });
      if (r.level === 'critical') actions.push({ kind: 'gc', ...on, reason: `${metric}-critical` });
      if (r.level === 'hard') actions.push({ kind: 'terminate', pid: p.pid, reason: `${metric} over ${r.threshold} ${r.unit}` });
    }
    processes.set(key, levels);
  };
  for (const p of input.sample.processes) {
    const pt = thresholdsFor(p.role, t);
    judge(p, 0, pt, (prev) => readings(p, pt, prev));
    for (const w of p.workers ?? []) judge(p, w.thread, pt, (prev) => isolateReadings(w, pt, prev));
  }

  const treeMb = Math.round(input.sample.processes.reduce((s, p) => s + p.rssBytes, 0) / MB);
  const reached = step(treeMb, 'MB', stepsOf(t).tree, state.tree);
  const tr = { ...reached, level: held('tree', state.tree, reached.level, t.clearAfterMs) };
  if (tr.level !== state.tree) {
    actions.push({
      kind: 'alert',
      level: tr.level === 'ok' ? 'info' : tr.level,
      metric: 'tree',
      message: tr.level === 'ok' ? `process tree back to ${treeMb} MB (was ${state.tree})` : `process tree at ${treeMb} MB (${tr.level} at ${tr.threshold} MB)`,
      value: treeMb,
      threshold: tr.threshold,
      unit: 'MB',
    });
    const top = largest(input.sample.processes);
    if (rank(tr.level) > rank(state.tree) && tr.level !== 'warning') {
      if (top) actions.push({ kind: 'capture', pid: top.pid, reason: `tree-${tr.level}`, ...(mostlyOffHeap(top.heapTotal, top.rssBytes) ? { snapshot: true } : {}) });
      if (tr.level === 'critical') actions.push({ kind: 'cleanup', reason: 'tree-critical' });
      if (tr.level === 'hard') actions.push({ kind: 'restart', reason: `process tree over ${tr.threshold} MB` });
    }
  }
  return { state: { processes, tree: tr.level, below }, actions };
}
