// Pure: what the control socket shows of the supervisor's state, built from the last tick and the policy's
// levels. No I/O, so status requests never touch the agent.
import type { ProcessView, StatusView, WorkerView } from './protocol.js';
import { ROLE_KEYS, type RoleKey } from '../../config/config.js';
import { LEVELS, rank, trustedTrend, type Level, type PolicyState, type Thresholds } from '../watch/policy.js';
import { thresholdsFor } from '../watch/roles.js';
import type { HistoryPoint, Tick } from '../watch/sampler.js';
import type { HeapHistory } from '../watch/trend.js';
import type { Trend } from '../watch/trend.js';
import { tenthsMb as mb } from '../../common/units.js';
import { isolateKey } from '../probe-link/isolate.js';

export function highestLevel(levels: Iterable<Level | undefined>): Level {
  let top: Level = 'ok';
  for (const l of levels) if (l && rank(l) > rank(top)) top = l;
  return top;
}

/** A trend is shown only when the policy trusts it: a young history forecasts nonsense. */
export function processViews(
  tick: Tick | undefined,
  policy: PolicyState,
  history: (pid: number) => HistoryPoint[],
  heapHistory: (pid: number, thread?: number) => HeapHistory,
  thresholds: Thresholds,
): ProcessView[] {
  if (!tick) return [];
  return tick.processes
    .map((p) => {
      const points = history(p.pid);
      const trend = trustedTrend(heapHistory(p.pid), p.heapLimit, thresholds.trendWindowMs);
      const own = thresholdsFor(p.role, thresholds);
      const view: ProcessView = {
        pid: p.pid,
        ppid: p.ppid,
        role: p.role,
        argv: p.argv,
        rss_mb: mb(p.rssBytes),
        cpu_percent: p.cpuPercent,
        threads: p.threads,
        level: highestLevel(Object.values(policy.processes.get(isolateKey(p.pid)) ?? {})),
        history: { rss_mb: points.map((h) => mb(h.rssBytes)) },
        thresholds: Object.fromEntries(ROLE_KEYS.map((k) => [k, own[k]])) as Pick<Thresholds, RoleKey>,
      };
      if (p.heapUsed !== undefined) view.heap_used_mb = mb(p.heapUsed);
      if (p.heapLimit !== undefined) view.heap_limit_mb = mb(p.heapLimit);
      if (p.heapTotal !== undefined) view.heap_total_mb = mb(p.heapTotal);
      if (p.external !== undefined) view.external_mb = mb(p.external);
      if (p.arrayBuffers !== undefined) view.array_buffers_mb = mb(p.arrayBuffers);
      if (p.rssAnon !== undefined) view.rss_anon_mb = mb(p.rssAnon);
      if (p.rssFile !== undefined) view.rss_file_mb = mb(p.rssFile);
      if (p.rssShmem !== undefined) view.rss_shmem_mb = mb(p.rssShmem);
      if (p.handles) view.handles = p.handles;
      if (p.fds !== undefined) view.fds = p.fds;
      if (p.sockets !== undefined) view.sockets = p.sockets;
      if (trend) view.trend = trendView(trend);
      if (p.workers) {
        view.workers = p.workers.map((w) => {
          const wt = trustedTrend(heapHistory(p.pid, w.thread), w.heapLimit, thresholds.trendWindowMs);
          const worker: WorkerView = { thread: w.thread, level: highestLevel(Object.values(policy.processes.get(isolateKey(p.pid, w.thread)) ?? {})) };
          if (w.heapUsed !== undefined) worker.heap_used_mb = mb(w.heapUsed);
          if (w.heapLimit !== undefined) worker.heap_limit_mb = mb(w.heapLimit);
          if (wt) worker.trend = trendView(wt);
          return worker;
        });
      }
      return view;
    })
    .sort((a, b) => a.pid - b.pid);
}

function trendView(trend: Trend): NonNullable<ProcessView['trend']> {
  return {
    mb_per_min: Math.round(trend.mbPerMin * 10) / 10,
    confidence: Math.round(trend.confidence * 100) / 100,
    ...(trend.oomInMin === undefined ? {} : { oom_in_min: Math.round(trend.oomInMin) }),
  };
}

export function treeView(tick: Tick | undefined, policy: PolicyState) {
  const processes = tick?.processes ?? [];
  const heaps = processes.flatMap((p) => [p, ...(p.workers ?? [])].flatMap((i) => (i.heapUsed === undefined ? [] : [i.heapUsed])));
  const externals = processes.flatMap((p) => (p.external === undefined ? [] : [p.external]));
  return {
    processes: processes.length,
    rss_mb: mb(processes.reduce((s, p) => s + p.rssBytes, 0)),
    ...(heaps.length ? { heap_used_mb: mb(heaps.reduce((a, b) => a + b, 0)) } : {}),
    ...(externals.length ? { external_mb: mb(externals.reduce((a, b) => a + b, 0)) } : {}),
    level: highestLevel([policy.tree, ...[...policy.processes.values()].flatMap((l) => Object.values(l))]),
  };
}

export const emptyLevelCounts = (): Record<Level, number> => Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>;

/**
 * The agent as status shows it. Only a running agent has a pid: between runs (a restart's backoff, leftovers
 * being ended) the last run's pid is a dead process's, or by now another's. In backoff, when the next run starts.
 */
export function agentView(
  phase: string,
  restarts: number,
  run: { id: string; pid: number; startedAt: number } | undefined,
  restartAt: number | undefined,
  now: number,
): StatusView['agent'] {
  const live = phase === 'running' && run ? { run_id: run.id, pid: run.pid, started_at: new Date(run.startedAt).toISOString() } : {};
  const wait = phase === 'backoff' && restartAt !== undefined ? { restart_in_s: Math.max(0, Math.ceil((restartAt - now) / 1000)) } : {};
  return { phase, restarts, ...live, ...wait };
}

/** The last tick, while it describes a running agent's tree; between runs it is a dead tree's. */
export const liveTick = (phase: string, tick: Tick | undefined): Tick | undefined => (phase === 'running' ? tick : undefined);
