// Prometheus metrics of the supervisor and the agent tree. The supervisor feeds this registry as things
// happen (samples, exits, alerts, captures); /metrics only renders it, so a scrape never touches the agent.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Level, ProcessSample } from '../watch/policy.js';

/** Past this many distinct roles, further ones are folded into `other`: pids must never become labels. */
export const MAX_ROLES = 32;
const OTHER_ROLE = 'other';

export class Metrics {
  readonly registry = new Registry();
  private readonly roles = new Set<string>();

  private readonly processRss = this.gauge('agent_process_resident_memory_bytes', 'RSS of the agent tree\'s processes, summed by role', ['role']);
  private readonly processHeapUsed = this.gauge('agent_process_heap_used_bytes', 'V8 heap used, summed by role', ['role']);
  private readonly processHeapLimit = this.gauge('agent_process_heap_limit_bytes', 'V8 old-space limit, summed by role', ['role']);
  private readonly processFds = this.gauge('agent_process_open_fds', 'open file descriptors, summed by role', ['role']);
  private readonly processSockets = this.gauge('agent_process_sockets', 'open sockets, summed by role', ['role']);
  private readonly processCount = this.gauge('agent_processes', 'processes of the agent tree by role', ['role']);
  private readonly treeRss = this.gauge('agent_tree_resident_memory_bytes', 'RSS of the whole agent tree', []);
  private readonly treeHeapUsed = this.gauge('agent_tree_heap_used_bytes', 'V8 heap used over the whole agent tree', []);
  private readonly treeProcesses = this.gauge('agent_tree_processes', 'processes in the agent tree', []);
  private readonly agentUp = this.gauge('agent_up', '1 while an agent run is alive', []);
  private readonly restarts = this.counter('restarts_total', 'agent restarts by the reason of the exit that caused them', ['reason']);
  private readonly exits = this.counter('agent_exits_total', 'agent exits by reason', ['reason']);
  private readonly alerts = this.counter('alerts_total', 'alerts raised by level', ['level']);
  private readonly captures = this.counter('captures_total', 'heap captures written by kind', ['kind']);
  private readonly sampleDuration = new Histogram({
    name: 'cfn_supervise_sample_duration_seconds',
    help: 'time one sampling tick took (process tree, usage, heap over CDP)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor() {
    // The supervisor's own footprint. Not prom-client's default metrics: three of those are gauges named
    // *_total, which promtool rejects.
    const registers = [this.registry];
    new Gauge({ name: 'cfn_supervise_self_resident_memory_bytes', help: 'RSS of the supervisor itself', registers, collect() { this.set(process.memoryUsage.rss()); } });
    new Gauge({ name: 'cfn_supervise_self_heap_used_bytes', help: 'V8 heap used by the supervisor itself', registers, collect() { this.set(process.memoryUsage().heapUsed); } });
    new Counter({
      name: 'cfn_supervise_self_cpu_seconds_total',
      help: 'CPU time (user + system) spent by the supervisor itself',
      registers,
      collect() {
        const { user, system } = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]) {
    return new Gauge<L>({ name: `cfn_supervise_${name}`, help, labelNames, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]) {
    return new Counter<L>({ name: `cfn_supervise_${name}`, help, labelNames, registers: [this.registry] });
  }

  private roleLabel(role: string): string {
    if (this.roles.has(role)) return role;
    if (this.roles.size >= MAX_ROLES) return OTHER_ROLE;
    this.roles.add(role);
    return role;
  }

  /** One sampling tick (sampler.ts's Tick fits); replaces the previous one, so exited processes drop out. */
  observeTick({ processes, durationMs }: { processes: readonly ProcessSample[]; durationMs?: number }): void {
    const perProcess = [this.processRss, this.processHeapUsed, this.processHeapLimit, this.processFds, this.processSockets, this.processCount];
    for (const g of perProcess) g.reset();
    let rss = 0;
    let heapUsed = 0;
    for (const p of processes) {
      const role = this.roleLabel(p.role);
      this.processCount.inc({ role });
      this.processRss.inc({ role }, p.rssBytes);
      rss += p.rssBytes;
      if (p.heapUsed !== undefined) {
        this.processHeapUsed.inc({ role }, p.heapUsed);
        heapUsed += p.heapUsed;
      }
      if (p.heapLimit !== undefined) this.processHeapLimit.inc({ role }, p.heapLimit);
      if (p.fds !== undefined) this.processFds.inc({ role }, p.fds);
      if (p.sockets !== undefined) this.processSockets.inc({ role }, p.sockets);
    }
    this.treeRss.set(rss);
    this.treeHeapUsed.set(heapUsed);
    this.treeProcesses.set(processes.length);
    if (durationMs !== undefined) this.sampleDuration.observe(durationMs / 1000);
  }

  agentRunning(up: boolean): void {
    this.agentUp.set(up ? 1 : 0);
  }

  countRestart(reason: string): void {
    this.restarts.inc({ reason });
  }

  countExit(reason: string): void {
    this.exits.inc({ reason });
  }

  countAlert(level: Level): void {
    this.alerts.inc({ level });
  }

  countCapture(kind: string): void {
    this.captures.inc({ kind });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
