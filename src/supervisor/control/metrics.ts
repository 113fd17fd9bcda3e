// Prometheus metrics of the supervisor and the agent tree. The supervisor feeds this registry as things
// happen (samples, exits, alerts, captures); /metrics only renders it, so a scrape never touches the agent.
import { CONTENT_TYPE, Counter, Gauge, Histogram, Registry } from './exposition.js';
import { MB } from '../../common/units.js';
import type { ExitReason } from '../lifecycle/classify.js';
import type { Level, ProcessSample } from '../watch/policy.js';

/** Past this many distinct roles, further ones are folded into `other`: pids must never become labels. */
export const MAX_ROLES = 32;
const OTHER_ROLE = 'other';

/** The values the `metric` label of alerts_total may take; anything else is counted as `other`. */
export const ALERT_METRICS = ['rss', 'heap', 'fds', 'sockets', 'trend', 'offheap', 'tree', 'unresponsive', 'limit', 'oom', 'oom-kill', 'capture', 'other'] as const;
const alertMetrics: ReadonlySet<string> = new Set(ALERT_METRICS);
const EXIT_REASONS = ['clean', 'crash', 'oom', 'killed', 'stopped', 'limit', 'oom-kill'] as const satisfies readonly ExitReason[];

/** A trusted heap trend (policy/trend.ts's Trend fits): only the caller knows whether its fit is good enough. */
export interface ProcessTrend {
  mbPerMin: number;
  oomInMin?: number;
}
export type TickProcess = ProcessSample & { trend?: ProcessTrend };

/** One role's part of a tick: sums, except the fastest growth and the soonest OOM. */
interface RoleSums {
  count: number;
  rss: number;
  heapUsed?: number;
  heapLimit?: number;
  heapTotal?: number;
  external?: number;
  arrayBuffers?: number;
  rssAnon?: number;
  rssFile?: number;
  rssShmem?: number;
  fds?: number;
  sockets?: number;
  growth?: number;
  forecast?: number;
  workers?: number;
  workerHeapUsed?: number;
  workerHeapLimit?: number;
}

/** Figures of a process summed as they are into its role's gauges. */
const SUMMED = ['heapLimit', 'heapTotal', 'external', 'arrayBuffers', 'rssAnon', 'rssFile', 'rssShmem', 'fds', 'sockets'] as const satisfies readonly (keyof RoleSums & keyof ProcessSample)[];

export class Metrics {
  readonly registry = new Registry();
  private readonly roles = new Set<string>();

  private readonly processRss = this.gauge('agent_process_resident_memory_bytes', 'RSS of the agent tree\'s processes, summed by role', ['role']);
  private readonly processHeapUsed = this.gauge('agent_process_heap_used_bytes', 'V8 heap used, summed by role', ['role']);
  private readonly processHeapLimit = this.gauge('agent_process_heap_limit_bytes', 'V8 old-space limit, summed by role', ['role']);
  private readonly processHeapTotal = this.gauge('agent_process_heap_total_bytes', 'V8 heap allocated (used and free), summed by role', ['role']);
  private readonly processExternal = this.gauge('agent_process_external_memory_bytes', 'memory of Buffers, ArrayBuffers and other objects outside the V8 heap, summed by role', ['role']);
  private readonly processArrayBuffers = this.gauge('agent_process_array_buffers_bytes', 'memory of ArrayBuffers and Buffers, summed by role', ['role']);
  private readonly processRssAnon = this.gauge('agent_process_resident_memory_anon_bytes', 'anonymous RSS (heap, Buffers, native allocations), summed by role', ['role']);
  private readonly processRssFile = this.gauge('agent_process_resident_memory_file_bytes', 'file-backed RSS (code, mapped files), summed by role', ['role']);
  private readonly processRssShmem = this.gauge('agent_process_resident_memory_shmem_bytes', 'shared-memory RSS, summed by role', ['role']);
  private readonly processFds = this.gauge('agent_process_open_fds', 'open file descriptors, summed by role', ['role']);
  private readonly processSockets = this.gauge('agent_process_sockets', 'open sockets, summed by role', ['role']);
  private readonly processCount = this.gauge('agent_processes', 'processes of the agent tree by role', ['role']);
  private readonly workerCount = this.gauge('agent_worker_threads', 'worker threads with a probe (each an isolate with its own heap), by the role of their process', ['role']);
  private readonly workerHeapUsed = this.gauge('agent_worker_heap_used_bytes', 'V8 heap used by worker threads, summed by the role of their process', ['role']);
  private readonly workerHeapLimit = this.gauge('agent_worker_heap_limit_bytes', 'V8 old-space limits of worker threads, summed by the role of their process', ['role']);
  // Base units (bytes per second), not the trend's MB/min: promtool check metrics rejects abbreviated units.
  private readonly heapGrowth = this.gauge('agent_process_heap_growth_bytes_per_second', 'growth of the post-GC heap floor, the fastest process of each role', ['role']);
  private readonly oomForecast = this.gauge('agent_process_oom_forecast_seconds', 'time until the heap floor reaches the old-space limit at its current growth, the soonest process of each role', ['role']);
  private readonly treeRss = this.gauge('agent_tree_resident_memory_bytes', 'RSS of the whole agent tree', []);
  private readonly treeHeapUsed = this.gauge('agent_tree_heap_used_bytes', 'V8 heap used over the whole agent tree', []);
  private readonly treeProcesses = this.gauge('agent_tree_processes', 'processes in the agent tree', []);
  private readonly agentUp = this.gauge('agent_up', '1 while an agent run is alive', []);
  private readonly restarts = this.counter('restarts_total', 'agent restarts by the reason of the exit that caused them', ['reason']);
  private readonly exits = this.counter('agent_exits_total', 'agent exits by reason', ['reason']);
  private readonly alerts = this.counter('alerts_total', 'alerts raised by level and by the metric that raised them', ['level', 'metric']);
  private readonly captures = this.counter('captures_total', 'heap captures written by kind', ['kind']);
  private readonly deliveries = this.counter('alert_deliveries_total', 'alerts delivered to an alert channel (webhook or command)', ['channel']);
  private readonly deliveryFailures = this.counter('alert_delivery_failures_total', 'alerts an alert channel gave up on after its retries', ['channel']);
  private readonly deliveryDrops = this.counter('alert_delivery_drops_total', 'alerts an alert channel never tried: its queue was full, or the supervisor was leaving', ['channel']);
  private readonly droppedLines = this.counter('journal_dropped_lines_total', 'journal lines that could not be written (a full disk), by journal', ['journal']);
  private readonly sampleDuration = this.registry.add(
    new Histogram('cfn_supervise_sample_duration_seconds', 'time one sampling tick took (process tree, usage, heap over CDP)', [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ]),
  );

  /** The per-role gauges, each with the part of a role's sums it shows. */
  private readonly roleGauges: readonly [Gauge<'role'>, keyof RoleSums][] = [
    [this.processCount, 'count'],
    [this.processRss, 'rss'],
    [this.processHeapUsed, 'heapUsed'],
    [this.processHeapLimit, 'heapLimit'],
    [this.processHeapTotal, 'heapTotal'],
    [this.processExternal, 'external'],
    [this.processArrayBuffers, 'arrayBuffers'],
    [this.processRssAnon, 'rssAnon'],
    [this.processRssFile, 'rssFile'],
    [this.processRssShmem, 'rssShmem'],
    [this.processFds, 'fds'],
    [this.processSockets, 'sockets'],
    [this.heapGrowth, 'growth'],
    [this.oomForecast, 'forecast'],
    [this.workerCount, 'workers'],
    [this.workerHeapUsed, 'workerHeapUsed'],
    [this.workerHeapLimit, 'workerHeapLimit'],
  ];

  constructor() {
    // Known reasons start at 0: increase() over a series born at 1 sees no increase, so the first OOM after
    // a supervisor start would raise no alert.
    for (const reason of EXIT_REASONS) {
      this.exits.inc({ reason }, 0);
      this.restarts.inc({ reason }, 0);
    }
    this.restarts.inc({ reason: 'requested' }, 0);
    // The supervisor's own footprint, read at scrape time.
    this.registry.add(new Gauge('cfn_supervise_self_resident_memory_bytes', 'RSS of the supervisor itself', [], () => process.memoryUsage.rss()));
    this.registry.add(new Gauge('cfn_supervise_self_heap_used_bytes', 'V8 heap used by the supervisor itself', [], () => process.memoryUsage().heapUsed));
    this.registry.add(
      new Counter('cfn_supervise_self_cpu_seconds_total', 'CPU time (user + system) spent by the supervisor itself', [], () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      }),
    );
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]) {
    return this.registry.add(new Gauge<L>(`cfn_supervise_${name}`, help, labelNames));
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]) {
    return this.registry.add(new Counter<L>(`cfn_supervise_${name}`, help, labelNames));
  }

  private roleLabel(role: string): string {
    if (this.roles.has(role)) return role;
    if (this.roles.size >= MAX_ROLES) return OTHER_ROLE;
    this.roles.add(role);
    return role;
  }

  /** One sampling tick (sampler.ts's Tick fits); replaces the previous one, so exited processes drop out. */
  observeTick({ processes, durationMs }: { processes: readonly TickProcess[]; durationMs?: number }): void {
    const roles = new Map<string, RoleSums>();
    let rss = 0;
    let heapUsed = 0;
    for (const p of processes) {
      const role = this.roleLabel(p.role);
      let sums = roles.get(role);
      if (!sums) roles.set(role, (sums = { count: 0, rss: 0 }));
      sums.count++;
      sums.rss += p.rssBytes;
      rss += p.rssBytes;
      if (p.heapUsed !== undefined) {
        sums.heapUsed = (sums.heapUsed ?? 0) + p.heapUsed;
        heapUsed += p.heapUsed;
      }
      for (const key of SUMMED) {
        const v = p[key];
        if (v !== undefined) sums[key] = (sums[key] ?? 0) + v;
      }
      for (const w of p.workers ?? []) {
        sums.workers = (sums.workers ?? 0) + 1;
        if (w.heapUsed !== undefined) {
          sums.workerHeapUsed = (sums.workerHeapUsed ?? 0) + w.heapUsed;
          heapUsed += w.heapUsed;
        }
        if (w.heapLimit !== undefined) sums.workerHeapLimit = (sums.workerHeapLimit ?? 0) + w.heapLimit;
      }
      // Growth and forecast are not sums: one leaking process is the story, so the role shows its worst one.
      if (p.trend) {
        sums.growth = Math.max(sums.growth ?? -Infinity, (p.trend.mbPerMin * MB) / 60);
        const { oomInMin } = p.trend;
        if (oomInMin !== undefined) sums.forecast = Math.min(sums.forecast ?? Infinity, oomInMin * 60);
      }
    }
    const gauges = this.roleGauges;
    for (const [gauge] of gauges) gauge.reset();
    for (const [role, sums] of roles) {
      for (const [gauge, key] of gauges) {
        const v = sums[key];
        if (v !== undefined) gauge.set({ role }, v);
      }
    }
    this.treeRss.set({}, rss);
    this.treeHeapUsed.set({}, heapUsed);
    this.treeProcesses.set({}, processes.length);
    if (durationMs !== undefined) this.sampleDuration.observe(durationMs / 1000);
  }

  agentRunning(up: boolean): void {
    this.agentUp.set({}, up ? 1 : 0);
  }

  countRestart(reason: string): void {
    this.restarts.inc({ reason });
  }

  countExit(reason: string): void {
    this.exits.inc({ reason });
  }

  /** `metric` is an Action's metric or the executor's own (limit, capture); unknown ones count as `other`. */
  countAlert(level: Level, metric = 'other'): void {
    this.alerts.inc({ level, metric: alertMetrics.has(metric) ? metric : 'other' });
  }

  /** Channels known from the start, so their counters exist at 0 and increase() sees the first failure. */
  alertChannels(names: readonly string[]): void {
    for (const channel of names) for (const c of [this.deliveries, this.deliveryFailures, this.deliveryDrops]) c.inc({ channel }, 0);
  }

  countDelivery(channel: string, ok: boolean): void {
    (ok ? this.deliveries : this.deliveryFailures).inc({ channel });
  }

  countDeliveryDrop(channel: string): void {
    this.deliveryDrops.inc({ channel });
  }

  countDroppedLine(journal: string): void {
    this.droppedLines.inc({ journal });
  }

  countCapture(kind: string): void {
    this.captures.inc({ kind });
  }

  render(): string {
    return this.registry.render();
  }

  readonly contentType = CONTENT_TYPE;
}
