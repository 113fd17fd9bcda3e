// The watch loop of one run: every interval, one observation (sampler), the policy's answer (decide), and the
// actions dispatched to the executor. Alerts are written at once; the other actions run in order beside the
// loop, so a slow capture never delays the next observation.
import type { Logger } from 'pino';
import type { Executor } from '../act/executor.js';
import type { Metrics } from '../control/metrics.js';
import { decide, initialPolicyState, trustedTrend, type Action, type PolicyState, type Thresholds } from '../watch/policy.js';
import type { ProcessLife, Sampler, Tick } from '../watch/sampler.js';
import type { Journal } from '../journal/journal.js';
import { redactArgv } from '../../common/redact.js';
import { wholeMb } from '../../common/units.js';
import type { Run } from './run.js';

export interface WatcherSettings {
  thresholds: Thresholds;
  intervalMs: number;
}

export interface WatcherDeps {
  sampler: Sampler;
  executor: Executor;
  metrics: Metrics;
  log: Logger;
  journal: Journal;
}

/** History the trend needs: one point per interval over the window, within bounds. */
export function historySize(settings: WatcherSettings): number {
  return Math.min(3600, Math.max(60, Math.ceil(settings.thresholds.trendWindowMs / settings.intervalMs) + 1));
}

export class Watcher {
  private run?: Run;
  private timer?: NodeJS.Timeout;
  private soon?: NodeJS.Immediate;
  private policy: PolicyState = initialPolicyState;
  private last?: Tick;

  constructor(
    private readonly deps: WatcherDeps,
    private settings: WatcherSettings,
  ) {}

  get lastTick(): Tick | undefined {
    return this.last;
  }

  get policyState(): PolicyState {
    return this.policy;
  }

  get thresholds(): Thresholds {
    return this.settings.thresholds;
  }

  start(run: Run): void {
    this.run = run;
    this.policy = initialPolicyState;
    this.deps.sampler.reset();
    this.schedule();
  }

  stop(): void {
    clearInterval(this.timer);
    clearImmediate(this.soon);
    this.timer = undefined;
    this.deps.sampler.finish();
    this.run = undefined;
  }

  /** A node process of the run ended: its line in processes.jsonl. */
  processEnded(life: ProcessLife, withRun: boolean): void {
    const run = this.run;
    if (!run) return;
    const { warnings, terminated } = run.processEnd(life.pid);
    const heap = life.heap;
    this.deps.journal.processes.info({
      run_id: run.id,
      pid: life.pid,
      ppid: life.ppid,
      role: life.role,
      ...(life.argv ? { argv: redactArgv(life.argv) } : {}),
      instrumented: life.probed ? (life.runtime ?? 'probe') : 'rss-only',
      started_at: new Date(life.firstAt).toISOString(),
      ended_at: new Date(life.lastAt).toISOString(),
      duration_seconds: Math.round(life.lastAt - life.firstAt) / 1000,
      start_rss_mb: wholeMb(life.rss.start),
      peak_rss_mb: wholeMb(life.rss.peak),
      end_rss_mb: wholeMb(life.rss.end),
      ...(heap ? { start_heap_mb: wholeMb(heap.start), peak_heap_mb: wholeMb(heap.peak), end_heap_mb: wholeMb(heap.end), heap_limit_mb: wholeMb(heap.limit) } : {}),
      warnings,
      ended: terminated ? 'terminated' : withRun ? 'with-run' : 'exited',
    });
  }

  update(settings: WatcherSettings): void {
    const intervalChanged = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    this.deps.sampler.resize(historySize(settings));
    if (intervalChanged && this.run) this.schedule();
  }

  /** A heap reading under pressure is decided on now: a fast leak can die within a tick. */
  heapArrived(fraction: number): void {
    if (!this.run || this.soon || fraction < this.settings.thresholds.heapWarning) return;
    this.soon = setImmediate(() => {
      this.soon = undefined;
      this.tick();
    });
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
  }

  private tick(): void {
    const run = this.run;
    if (!run) return;
    try {
      const sample = this.deps.sampler.tick(run.pid);
      this.last = sample;
      const { trendWindowMs } = this.settings.thresholds;
      this.deps.metrics.observeTick({
        ...sample,
        processes: sample.processes.map((p) => {
          const trend = trustedTrend(this.deps.sampler.heapHistory(p.pid), p.heapLimit, trendWindowMs);
          return trend ? { ...p, trend } : p;
        }),
      });
      run.memory.add(sample.processes);
      const { thresholds } = this.settings;
      run.heapNearLimit = sample.processes.some((p) => p.heapUsed !== undefined && p.heapLimit && p.heapUsed / p.heapLimit >= thresholds.heapCritical);
      run.gate.retain(new Set(sample.processes.map((p) => p.pid)));
      const { state, actions } = decide(this.policy, { sample, heapHistory: (pid) => this.deps.sampler.heapHistory(pid) }, thresholds);
      this.policy = state;
      this.dispatch(run, actions);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'tick failed');
    }
  }

  private dispatch(run: Run, actions: Action[]): void {
    const { executor, log } = this.deps;
    const rest: Action[] = [];
    for (const a of actions) {
      if (a.kind === 'alert') executor.execute(run, a).catch((err: Error) => log.error({ action: a, err: err.message }, 'alert not recorded'));
      else rest.push(a);
    }
    if (rest.length === 0) return;
    run.track(
      (async () => {
        for (const a of rest) {
          await executor.execute(run, a).catch((err: Error) => log.info({ action: a, err: err.message }, 'action not taken'));
        }
      })(),
    );
  }
}
