import { describe, expect, it } from 'vitest';
import { decide, initialPolicyState, type Action, type PolicyState, type ProcessSample, type Thresholds } from '../../src/supervisor/watch/policy.js';
import { offHeapGrowth } from '../../src/supervisor/watch/offheap.js';
import { thresholdsFor } from '../../src/supervisor/watch/roles.js';
import { leakTrend, type HeapHistory, type Point, type Trend } from '../../src/supervisor/watch/trend.js';

const MB = 1048576;
const T: Thresholds = {
  warningMb: 1024, criticalMb: 2048, hardMb: 4096,
  treeWarningMb: 6144, treeCriticalMb: 8192, treeHardMb: 0,
  heapWarning: 0.7, heapCritical: 0.85, heapImminent: 0.95,
  fdWarning: 1000, connInfo: 25, connWarning: 50, connCritical: 100,
  trendWindowMs: 60_000, trendMinMbPerMin: 1, trendHorizonMin: 120, offheapWarningMbPerMin: 20, offheapCriticalMbPerMin: 200, clearAfterMs: 0, roles: [],
};
const system = { total_mb: 24000, available_mb: 20000, used_mb: 4000, percent: 16.7 };
const proc = (over: Partial<ProcessSample> = {}): ProcessSample => ({ pid: 10, ppid: 1, role: 'agent', isAgent: true, rssBytes: 100 * MB, ...over });
/** The trend the sampler carries on a sample: fitted on the isolate's history over its role's window. */
const fitted = (h: HeapHistory, heapLimit: number | undefined, t: Thresholds, role: string) =>
  heapLimit ? leakTrend(h, heapLimit, { windowMs: thresholdsFor(role, t).trendWindowMs }) : undefined;
const withTrends = (p: ProcessSample, history: (pid: number, thread?: number) => HeapHistory, t: Thresholds): ProcessSample => ({
  ...p,
  trend: p.trend ?? fitted(history(p.pid), p.heapLimit, t, p.role),
  ...(p.workers ? { workers: p.workers.map((w) => ({ ...w, trend: w.trend ?? fitted(history(p.pid, w.thread), w.heapLimit, t, p.role) })) } : {}),
});
const run = (state: PolicyState, processes: ProcessSample[], history: (pid: number, thread?: number) => HeapHistory = () => ({ readings: [] }), t = T, at = 0) =>
  decide(state, { sample: { at, processes: processes.map((p) => withTrends(p, history, t)), system } }, t);
const kinds = (actions: Action[]) => actions.map((a) => (a.kind === 'alert' ? `alert:${a.metric}:${a.level}` : `${a.kind}`));

/** Feeds the samples one tick (one second) after another and returns the actions of every tick. */
function ticks(samples: ProcessSample[][], t = T): string[][] {
  let state = initialPolicyState;
  return samples.map((s, i) => {
    const r = run(state, s, undefined, t, i * 1000);
    state = r.state;
    return kinds(r.actions);
  });
}

describe('decide: worker threads, each an isolate with its own heap and limit', () => {
  const worker = (heapUsed: number, heapLimit = 160 * MB) => proc({ heapUsed: 10 * MB, heapLimit: 2048 * MB, workers: [{ thread: 3, heapUsed, heapLimit }] });
  const table: [string, ProcessSample[][], string[][]][] = [
    ['a small worker, no actions', [[worker(20 * MB)]], [[]]],
    [
      'a worker near its own limit is critical while the main thread is fine, then imminent',
      [[worker(100 * MB)], [worker(140 * MB)], [worker(155 * MB)]],
      [[], ['alert:heap:critical', 'capture', 'gc'], ['alert:heap:imminent', 'capture']],
    ],
    ['a worker that stops answering is unresponsive', [[proc({ workers: [{ thread: 3, missedReplies: 3 }] })]], [['alert:unresponsive:warning']]],
    ['a worker gone is forgotten: its level does not linger', [[worker(140 * MB)], [proc()], [proc()]], [['alert:heap:critical', 'capture', 'gc'], [], []]],
  ];
  it.each(table)('%s', (_name, samples, expected) => {
    expect(ticks(samples)).toEqual(expected);
  });

  it("addresses the worker's isolate in its alert, capture and GC, and keeps its level apart from the process's", () => {
    const r = run(initialPolicyState, [worker(140 * MB)]);
    expect(r.actions).toEqual([
      expect.objectContaining({ kind: 'alert', metric: 'heap', level: 'critical', pid: 10, thread: 3, message: expect.stringMatching(/^agent \(pid 10, worker thread 3\): heap at 88%/) }),
      { kind: 'capture', pid: 10, thread: 3, reason: 'heap-critical' },
      { kind: 'gc', pid: 10, thread: 3, reason: 'heap-critical' },
    ]);
    expect(r.state.processes.get('10')).toEqual({ rss: 'ok', heap: 'ok' });
    expect(r.state.processes.get('10/3')).toEqual({ heap: 'critical' });
  });

  it("judges the worker's trend apart from its process's", () => {
    const leak: Trend = { mbPerMin: 30, oomInMin: 5, confidence: 0.95, floorMb: 100 };
    const p = proc({ heapUsed: 10 * MB, heapLimit: 2048 * MB, workers: [{ thread: 3, heapUsed: 20 * MB, heapLimit: 160 * MB, trend: leak }] });
    const { actions } = run(initialPolicyState, [p]);
    expect(actions.map((a) => [a.kind, 'thread' in a ? a.thread : undefined])).toEqual([['alert', 3], ['capture', 3]]);
  });
});

describe('decide: per-process RSS and heap', () => {
  const table: [string, ProcessSample[][], string[][]][] = [
    ['quiet process, no actions', [[proc()], [proc()]], [[], []]],
    ['warning once, not every tick', [[proc({ rssBytes: 1100 * MB })], [proc({ rssBytes: 1200 * MB })]], [['alert:rss:warning'], []]],
    ['critical captures and collects', [[proc({ rssBytes: 2100 * MB })]], [['alert:rss:critical', 'capture', 'gc']]],
    ['hard terminates', [[proc({ rssBytes: 5000 * MB })]], [['alert:rss:hard', 'terminate']]],
    ['recovery is an info alert, no action, once two ticks were below', [[proc({ rssBytes: 1100 * MB })], [proc()], [proc()]], [['alert:rss:warning'], [], ['alert:rss:info']]],
    [
      'heap warning → critical → imminent in order',
      [[proc({ heapUsed: 180 * MB, heapLimit: 256 * MB })], [proc({ heapUsed: 220 * MB, heapLimit: 256 * MB })], [proc({ heapUsed: 250 * MB, heapLimit: 256 * MB })]],
      [['alert:heap:warning'], ['alert:heap:critical', 'capture', 'gc'], ['alert:heap:imminent', 'capture']],
    ],
    ['going down from critical to warning captures nothing', [[proc({ rssBytes: 2100 * MB })], [proc({ rssBytes: 1100 * MB })], [proc({ rssBytes: 1100 * MB })]], [['alert:rss:critical', 'capture', 'gc'], [], ['alert:rss:warning']]],
    ['fds over the limit warn', [[proc({ fds: 1001 })], [proc({ fds: 1000 })], [proc({ fds: 1000 })]], [['alert:fds:warning'], [], ['alert:fds:info']]],
    ['connections climb info → warning → critical without captures', [[proc({ sockets: 25 })], [proc({ sockets: 60 })], [proc({ sockets: 100 })]], [['alert:sockets:info'], ['alert:sockets:warning'], ['alert:sockets:critical']]],
  ];
  it.each(table)('%s', (_name, samples, expected) => {
    expect(ticks(samples)).toEqual(expected);
  });

  it('marks the capture at imminent urgent, so an earlier capture\'s cooldown does not hold it back', () => {
    const critical = run(initialPolicyState, [proc({ heapUsed: 220 * MB, heapLimit: 256 * MB })]);
    expect(critical.actions.find((a) => a.kind === 'capture')).toEqual({ kind: 'capture', pid: 10, reason: 'heap-critical' });
    const imminent = run(critical.state, [proc({ heapUsed: 250 * MB, heapLimit: 256 * MB })]);
    expect(imminent.actions.find((a) => a.kind === 'capture')).toEqual({ kind: 'capture', pid: 10, reason: 'heap-imminent', urgent: true });
  });

  it('forgets exited processes', () => {
    const first = run(initialPolicyState, [proc({ pid: 1 }), proc({ pid: 2 })]);
    expect([...run(first.state, [proc({ pid: 2 })]).state.processes.keys()]).toEqual(['2']);
  });

  it('alerts carry the value and the threshold crossed', () => {
    const { actions } = run(initialPolicyState, [proc({ rssBytes: 2100 * MB, role: 'node:worker.js', pid: 77 })]);
    expect(actions[0]).toMatchObject({ kind: 'alert', pid: 77, role: 'node:worker.js', value: 2100, threshold: 2048, unit: 'MB', level: 'critical' });
    expect(actions.slice(1)).toEqual([
      { kind: 'capture', pid: 77, reason: 'rss-critical' },
      { kind: 'gc', pid: 77, reason: 'rss-critical' },
    ]);
  });
});

describe('decide: whole tree', () => {
  const big = (pid: number, mb: number) => proc({ pid, isAgent: pid === 1, rssBytes: mb * MB });
  const table: [string, Thresholds, ProcessSample[][], string[][]][] = [
    ['tree warning', T, [[big(1, 900), big(2, 900), big(3, 900), big(4, 900), big(5, 900), big(6, 900), big(7, 900)]], [['alert:tree:warning']]],
    ['tree critical cleans up after capturing the largest', { ...T, treeWarningMb: 1000, treeCriticalMb: 1500 }, [[big(1, 800), big(2, 900)]], [['alert:tree:critical', 'capture', 'cleanup']]],
    ['tree hard restarts after capturing', { ...T, treeWarningMb: 1000, treeCriticalMb: 1500, treeHardMb: 1600 }, [[big(1, 800), big(2, 900)]], [['alert:tree:hard', 'capture', 'restart']]],
    ['no tree hard limit by default', T, [[big(1, 900), big(2, 900), big(3, 900), big(4, 900), big(5, 900), big(6, 900), big(7, 900), big(8, 900), big(9, 900), big(10, 900)]], [['alert:tree:critical', 'capture', 'cleanup']]],
  ];
  it.each(table)('%s', (_name, t, samples, expected) => {
    expect(ticks(samples, t)).toEqual(expected);
  });
  it('captures the process with the largest heap on tree critical', () => {
    const { actions } = run(initialPolicyState, [proc({ pid: 1, rssBytes: 900 * MB, heapUsed: 10 * MB, heapLimit: 4096 * MB }), proc({ pid: 2, rssBytes: 700 * MB, heapUsed: 600 * MB, heapLimit: 4096 * MB })], undefined, { ...T, treeWarningMb: 1000, treeCriticalMb: 1500 });
    expect(actions.find((a) => a.kind === 'capture')).toEqual({ kind: 'capture', pid: 2, reason: 'tree-critical' });
  });
});

describe('decide: hysteresis', () => {
  it('holds a level while the value hovers just under its threshold, and drops it once clearly below', () => {
    const heap = (pct: number) => [proc({ heapUsed: pct * 10 * MB, heapLimit: 1000 * MB })];
    const alerts = ticks([heap(86), heap(84), heap(86), heap(80), heap(80), heap(70)]).map((a) => a.filter((k) => k.startsWith('alert:heap')));
    expect(alerts).toEqual([['alert:heap:critical'], [], [], [], ['alert:heap:warning'], []]);
  });
});

describe('decide: a level goes down only after the value stayed below it for the hold', () => {
  const heap = (pct: number) => [proc({ heapUsed: pct * 10 * MB, heapLimit: 1000 * MB })];
  const rss = (mb: number) => [proc({ rssBytes: mb * MB })];
  const tree = (mb: number) => [proc({ pid: 1, rssBytes: (mb / 2) * MB }), proc({ pid: 2, isAgent: false, rssBytes: (mb / 2) * MB })];
  const hold = { ...T, clearAfterMs: 5000 };
  const treeT = { ...hold, warningMb: 100_000, criticalMb: 200_000, hardMb: 300_000, treeWarningMb: 1000, treeCriticalMb: 2000 };
  const only = (prefix: string) => (a: string[]) => a.filter((k) => k.startsWith(prefix));
  // One sample a second; [name, thresholds, samples, expected alerts of the metric per tick].
  const table: [string, Thresholds, ProcessSample[][], string, string[][]][] = [
    [
      'a heap see-sawing across the warning line warns once',
      hold,
      [heap(75), heap(50), heap(75), heap(50), heap(75), heap(50), heap(75), heap(50)],
      'alert:heap',
      [['alert:heap:warning'], [], [], [], [], [], [], []],
    ],
    [
      'clears once below for the hold (5 s) and two ticks',
      hold,
      [heap(75), heap(50), heap(50), heap(50), heap(50), heap(50), heap(50), heap(50)],
      'alert:heap',
      [['alert:heap:warning'], [], [], [], [], [], ['alert:heap:info'], []],
    ],
    [
      'a return over the margin restarts the hold',
      hold,
      [heap(75), heap(50), heap(50), heap(50), heap(68), heap(50), heap(50), heap(50), heap(50), heap(50), heap(50)],
      'alert:heap',
      [['alert:heap:warning'], [], [], [], [], [], [], [], [], [], ['alert:heap:info']],
    ],
    [
      'within the margin (5 % under) is not below',
      hold,
      [heap(75), heap(67), heap(67), heap(67), heap(67), heap(67), heap(67), heap(67)],
      'alert:heap',
      [['alert:heap:warning'], [], [], [], [], [], [], []],
    ],
    [
      'rising is at once, also during a hold',
      hold,
      [heap(75), heap(50), heap(90)],
      'alert:heap',
      [['alert:heap:warning'], [], ['alert:heap:critical']],
    ],
    [
      'a critical see-saw keeps critical: no second capture level change',
      hold,
      [heap(90), heap(72), heap(90), heap(72), heap(90)],
      'alert:heap',
      [['alert:heap:critical'], [], [], [], []],
    ],
    ['RSS holds too', hold, [rss(1100), rss(500), rss(1100), rss(500), rss(1100)], 'alert:rss', [['alert:rss:warning'], [], [], [], []]],
    [
      'the whole tree holds too',
      treeT,
      [tree(1100), tree(500), tree(1100), tree(500), tree(500), tree(500), tree(500), tree(500), tree(500), tree(500)],
      'alert:tree',
      [['alert:tree:warning'], [], [], [], [], [], [], [], ['alert:tree:info'], []],
    ],
    [
      'without a hold time, two ticks below still clear',
      T,
      [heap(75), heap(50), heap(50)],
      'alert:heap',
      [['alert:heap:warning'], [], ['alert:heap:info']],
    ],
  ];
  it.each(table)('%s', (_name, t, samples, prefix, expected) => {
    expect(ticks(samples, t).map(only(prefix))).toEqual(expected);
  });

  it('a see-saw between critical and below warning captures once', () => {
    const all = ticks([heap(90), heap(50), heap(90), heap(50), heap(90)], hold);
    expect(all.flat().filter((k) => k === 'capture')).toHaveLength(1);
  });
});

describe('decide: leak trend', () => {
  it('reads the trend the sample carries, fitted once where the sample was made', () => {
    const p = proc({ heapUsed: 130 * MB, heapLimit: 1024 * MB, trend: { mbPerMin: 30, oomInMin: 30, confidence: 0.9, floorMb: 130 } });
    const { actions } = decide(initialPolicyState, { sample: { at: 0, processes: [p], system } }, T);
    expect(kinds(actions)).toEqual(['alert:trend:warning', 'capture']);
  });

  const limit = 1024 * MB;
  const history = (mbAt: (s: number) => number): Point[] => Array.from({ length: 61 }, (_, s) => ({ t: s * 1000, v: mbAt(s) * MB }));
  const at = (h: Point[]) => proc({ heapUsed: h.at(-1)!.v, heapLimit: limit });

  it('raises the trend alert for a slow leak far below any threshold', () => {
    const h = history((s) => 100 + s / 2); // 30 MB/min, at 130 MB of 1024
    const { actions } = run(initialPolicyState, [at(h)], () => ({ readings: h }));
    expect(kinds(actions)).toEqual(['alert:trend:warning', 'capture']);
    expect(actions[1]).toMatchObject({ kind: 'capture', reason: 'heap-trend', coldSeconds: 30 });
    expect((actions[0] as { message: string }).message).toMatch(/heap grows 30 MB\/min, OOM in ~30 min/);
  });
  it('stays silent for a sawtooth that returns to its floor', () => {
    const h = history((s) => 200 + 20 * (s % 6));
    expect(kinds(run(initialPolicyState, [at(h)], () => ({ readings: h })).actions)).toEqual([]);
  });
  it('stays silent for growth whose OOM lies beyond the horizon', () => {
    const h = history((s) => 100 + s / 60); // 1 MB/min: 920 min to the limit
    expect(kinds(run(initialPolicyState, [at(h)], () => ({ readings: h }), { ...T, trendMinMbPerMin: 0.5 }).actions)).toEqual([]);
  });
  it('clears only once growth falls well below the alert rate (hysteresis)', () => {
    const raise = history((s) => 100 + s / 2);
    const first = run(initialPolicyState, [at(raise)], () => ({ readings: raise }), { ...T, trendMinMbPerMin: 20 });
    const slower = history((s) => 100 + s / 4); // 15 MB/min: under 20, over 10
    expect(kinds(run(first.state, [at(slower)], () => ({ readings: slower }), { ...T, trendMinMbPerMin: 20 }).actions)).toEqual([]);
    const flat = history(() => 300);
    const once = run(first.state, [at(flat)], () => ({ readings: flat }), { ...T, trendMinMbPerMin: 20 });
    expect(kinds(once.actions)).toEqual([]);
    expect(kinds(run(once.state, [at(flat)], () => ({ readings: flat }), { ...T, trendMinMbPerMin: 20 }).actions)).toEqual(['alert:trend:info']);
  });
  it('holds a raised trend through ticks where too few readings fit none, and does not raise it twice', () => {
    const raise = history((s) => 100 + s / 2);
    const first = run(initialPolicyState, [at(raise)], () => ({ readings: raise }));
    expect(kinds(first.actions)).toEqual(['alert:trend:warning', 'capture']);
    const sparse = raise.slice(-3);
    const lapse = run(first.state, [at(raise)], () => ({ readings: sparse }), T, 1000);
    expect(kinds(lapse.actions)).toEqual([]);
    expect(kinds(run(lapse.state, [at(raise)], () => ({ readings: raise }), T, 2000).actions)).toEqual([]);
    // A process whose heap is no longer read (it exec'd into something else) keeps no trend level.
    const unread = run(first.state, [proc()], () => ({ readings: [] }), T, 1000);
    expect(unread.state.processes.get('10')).toEqual({ rss: 'ok' });
  });
});

describe('decide: leak trend on post-GC floors', () => {
  const limit = 1024 * MB;
  /** A major GC every `every` seconds for `seconds`, the heap after each from `mbAt`. */
  const floors = (seconds: number, every: number, mbAt: (s: number) => number): Point[] =>
    Array.from({ length: Math.floor(seconds / every) + 1 }, (_, i) => ({ t: i * every * 1000, v: mbAt(i * every) * MB }));
  const at = (f: Point[]) => proc({ heapUsed: f.at(-1)!.v, heapLimit: limit });
  const noisy = (s: number) => 3 * Math.sin(s * 1.7);

  it('names a slow leak from its floors within 90 s, whatever the window, and asks for a capture', () => {
    const f = floors(80, 8, (s) => 200 + s / 2 + noisy(s)); // +30 MB/min, ten GCs
    const { actions } = run(initialPolicyState, [at(f)], () => ({ readings: [], floors: f }), { ...T, trendWindowMs: 300_000 });
    expect(kinds(actions)).toEqual(['alert:trend:warning', 'capture']);
    expect((actions[0] as { message: string }).message).toMatch(/heap grows (29|30|31)(\.\d)? MB\/min/);
  });
  it('stays silent for a sawtooth: its floors are flat', () => {
    const f = floors(120, 6, (s) => 300 + noisy(s));
    expect(kinds(run(initialPolicyState, [at(f)], () => ({ readings: [], floors: f })).actions)).toEqual([]);
  });
  it('stays silent once a cache that filled is full: the floors stopped rising', () => {
    const f = floors(240, 8, (s) => (s < 60 ? 200 + s * 2 : 320) + noisy(s));
    expect(kinds(run(initialPolicyState, [at(f)], () => ({ readings: [], floors: f }), { ...T, trendWindowMs: 300_000 }).actions)).toEqual([]);
  });
  it('does not trust a handful of GCs', () => {
    const f = floors(24, 8, (s) => 200 + s / 2);
    expect(kinds(run(initialPolicyState, [at(f)], () => ({ readings: [], floors: f })).actions)).toEqual([]);
  });
});

describe('per-role thresholds', () => {
  const roles: Thresholds = { ...T, roles: [{ pattern: 'node:*-worker.js', set: { warningMb: 100, criticalMb: 200, hardMb: 300 } }, { pattern: 'agent', set: { hardMb: 8192 } }] };
  it('applies the first rule whose pattern matches the role, over the global values', () => {
    const worker = proc({ pid: 11, role: 'node:build-worker.js', isAgent: false, rssBytes: 250 * MB });
    const agent = proc({ rssBytes: 5000 * MB });
    const { actions } = run(initialPolicyState, [worker, agent], undefined, roles);
    const alerts = actions.filter((a): a is Extract<Action, { kind: 'alert' }> => a.kind === 'alert').map((a) => [a.pid, a.level, a.threshold]);
    expect(alerts).toContainEqual([11, 'critical', 200]);
    // The agent's hard limit is 8192 by its rule: 5000 MB is critical (global 2048), not hard.
    expect(alerts).toContainEqual([10, 'critical', 2048]);
    expect(actions.some((a) => a.kind === 'terminate')).toBe(false);
  });
});

describe('decide: off-heap growth and handles', () => {
  /** RSS − heap total, one point a second. */
  const series = (seconds: number, mb: (s: number) => number): Point[] => Array.from({ length: seconds + 1 }, (_, s) => ({ t: s * 1000, v: mb(s) * MB }));
  const big = (over: Partial<ProcessSample> = {}) => proc({ rssBytes: 300 * MB, ...over });
  const captureKinds = (actions: Action[]) => actions.map((a) => (a.kind === 'alert' ? `alert:${a.metric}:${a.level}` : a.kind === 'capture' ? `capture:${a.reason}${a.snapshot ? ':snapshot' : ''}` : a.kind));
  const decideOn = (points: Point[], p = big({ heapTotal: 8 * MB, external: 250 * MB, arrayBuffers: 249 * MB })) =>
    decide(initialPolicyState, { sample: { at: 0, processes: [{ ...p, offHeapGrowth: offHeapGrowth(points) }], system } }, T);

  const table: [string, Point[], string[]][] = [
    ['a Buffer leak of 2 MB/s warns and asks for a snapshot', series(30, (s) => 50 + 2 * s), ['alert:offheap:warning', 'capture:offheap-warning:snapshot']],
    ['one of 5 MB/s is critical', series(30, (s) => 50 + 5 * s), ['alert:offheap:critical', 'capture:offheap-critical:snapshot']],
    ['flat off-heap memory is quiet', series(30, () => 290), []],
    ['too young a history is quiet', series(5, (s) => 50 + 20 * s), []],
  ];
  it.each(table)('%s', (_name, points, expected) => {
    expect(captureKinds(decideOn(points).actions)).toEqual(expected);
  });

  it('says where the memory is: RSS, heap, ArrayBuffers, in the message and the alert line', () => {
    const alert = decideOn(series(30, (s) => 50 + 2 * s)).actions[0] as Extract<Action, { kind: 'alert' }>;
    expect(alert.message).toBe('agent (pid 10): memory outside the V8 heap grows 120 MB/min (RSS 300 MB, heap 8 MB, ArrayBuffers 249 MB): Buffers, ArrayBuffers or native memory, not the heap');
    expect(alert.details).toEqual({ rss_mb: 300, heap_total_mb: 8, external_mb: 250, array_buffers_mb: 249 });
  });

  it('takes a snapshot, not a profile, at RSS critical when most of RSS is outside the heap', () => {
    const at = (p: ProcessSample) => captureKinds(decide(initialPolicyState, { sample: { at: 0, processes: [p], system } }, T).actions);
    expect(at(big({ rssBytes: 2100 * MB, heapTotal: 20 * MB }))).toEqual(['alert:rss:critical', 'capture:rss-critical:snapshot', 'gc']);
    expect(at(big({ rssBytes: 2100 * MB, heapTotal: 1500 * MB }))).toEqual(['alert:rss:critical', 'capture:rss-critical', 'gc']);
  });

  it('names the handle types that grew in a connection alert', () => {
    const p = big({ sockets: 57, handles: { TCPSocketWrap: 57, Timeout: 2 }, handlesGrew: { seconds: 6, by: { TCPSocketWrap: 55 } } });
    const { actions } = decide(initialPolicyState, { sample: { at: 0, processes: [p], system } }, T);
    const alert = actions[0] as Extract<Action, { kind: 'alert' }>;
    expect(alert.message).toBe('agent (pid 10): sockets 57 connections (warning at 50); handles TCPSocketWrap 57 (+55 in 6 s), Timeout 2');
    expect(alert.details).toEqual({ handles: { TCPSocketWrap: 57, Timeout: 2 }, handles_grew: { TCPSocketWrap: 55 }, handles_grew_seconds: 6 });
  });
});
