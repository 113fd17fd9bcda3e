// The watch loop of one run: every interval, one observation (sampler), the policy's answer (decide), and the
// actions dispatched to the executor. Alerts are written at once; the other actions run in order beside the
// loop, so a slow capture never delays the next observation.
import type { Logger } from 'pino';
import type { Executor } from '../act/executor.js';
import type { Metrics } from '../control/metrics.js';
import { decide, initialPolicyState, type Action, type PolicyState, type Thresholds } from '../watch/policy.js';
import type { ProcessLife, Sampler, Tick } from '../watch/sampler.js';
import type { Journal } from '../journal/journal.js';
import { collectReports } from '../journal/reports.js';
import { redactArgv } from '../../common/redact.js';
import { wholeMb } from '../../common/units.js';
import { memberFate, type MemberFate } from './classify.js';
import { isolateKey } from '../probe-link/isolate.js';
import { lastLiving, type Run } from './run.js';
import { NO_FAILURES, afterTick, watchFailing, type TickOutcomes } from './tick-health.js';

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
  /** Where node's fatal-error reports go: a node process that died of its heap left one there. */
  reportDir: string;
  /** The OOM kills the kernel counted in the supervisor's cgroup; absent without a readable one. */
  oomKills?: () => number | undefined;
  /** What the limit is called where the kernel's OOM killer acted (`cgroup memory.max 2048 MB`). */
  memoryLimit?: string;
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
  private outcomes: TickOutcomes = NO_FAILURES;

  constructor(
    private readonly deps: WatcherDeps,
    private settings: WatcherSettings,
  ) {}

  get lastTick(): Tick | undefined {
    return this.last;
  }

  /** Why the watch loop is failing (several ticks in a row threw), or undefined while it works. */
  get failing(): string | undefined {
    return watchFailing(this.outcomes);
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
    this.outcomes = NO_FAILURES;
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

  /**
   * A process of the run ended: a node process always gets its line in processes.jsonl; any process that memory
   * ended gets one too, with the cause and signal, an alert and a notice (the agent's own end is the run's record).
   */
  processEnded(life: ProcessLife, withRun: boolean, node: boolean): void {
    const run = this.run;
    if (!run) return;
    const { warnings, limitSignal } = run.processEnd(life.pid);
    const fate = this.fateOf(run, life, node, limitSignal);
    if (!node && !fate) return;
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
      ...(life.workers ? workerFields(life.workers) : {}),
      ...(life.workerOoms ? { worker_ooms: life.workerOoms } : {}),
      ...(life.heap ? { start_heap_mb: wholeMb(life.heap.start), peak_heap_mb: wholeMb(life.heap.peak), end_heap_mb: wholeMb(life.heap.end), heap_limit_mb: wholeMb(life.heap.limit) } : {}),
      ...(life.offHeap ? { peak_external_mb: wholeMb(life.offHeap.peakExternal), peak_array_buffers_mb: wholeMb(life.offHeap.peakArrayBuffers) } : {}),
      ...(life.peakRssAnon === undefined ? {} : { peak_rss_anon_mb: wholeMb(life.peakRssAnon) }),
      warnings,
      ended: limitSignal ? 'terminated' : withRun ? 'with-run' : 'exited',
      ...(fate ? { cause: fate.cause, signal: fate.signal, ...(fate.report ? { report: fate.report } : {}) } : {}),
    });
    if (!fate || life.pid === run.pid) return;
    run.memberEnded(fate.cause);
    // A memory rule's kill was announced when it was sent.
    if (fate.cause === 'limit') return;
    const who = `${life.role} (pid ${life.pid})`;
    const message =
      fate.cause === 'oom'
        ? `${who} ran out of heap (SIGABRT after V8's FATAL ERROR); report: ${fate.report}`
        : `${who} was killed by the kernel's OOM killer (SIGKILL${this.deps.memoryLimit ? `, ${this.deps.memoryLimit}` : ''})`;
    this.deps.executor.memberDied(run, {
      pid: life.pid,
      role: life.role,
      ...(life.argv ? { argv: redactArgv(life.argv) } : {}),
      cause: fate.cause,
      message,
      signal: fate.signal,
      ...(fate.report ? { report: fate.report } : {}),
      peak_rss_mb: wholeMb(life.rss.peak),
    });
  }

  /**
   * A worker thread died of its heap (ERR_WORKER_OUT_OF_MEMORY, seen by the main thread's probe): counted in
   * its process's line, alerted; when nothing handles it in the agent, the run's end is an OOM.
   */
  workerOom(pid: number, thread: number, fatal: boolean): void {
    const run = this.run;
    if (!run) return;
    const life = this.deps.sampler.workerOom(pid);
    const endsAgent = fatal && pid === run.pid;
    if (endsAgent) run.agentWorkerOom = true;
    else run.memberEnded('oom');
    const role = life?.role ?? 'node';
    const then = endsAgent ? 'unhandled: the agent ends with it' : fatal ? 'unhandled: the process ends with it' : 'the process handled it and lives on';
    this.deps.executor.memberDied(run, {
      pid,
      thread,
      role,
      cause: 'oom',
      message: `${role} (pid ${pid}): worker thread ${thread} ran out of heap (ERR_WORKER_OUT_OF_MEMORY); ${then}`,
    });
  }

  /** Evidence is looked for only as far as needed: our own kill, then the process's report, then the counter. */
  private fateOf(run: Run, life: ProcessLife, node: boolean, limitSignal: NodeJS.Signals | undefined): MemberFate | undefined {
    if (limitSignal) return memberFate({ limitSignal });
    const oomReport = node ? collectReports(this.deps.reportDir, life.firstAt - 1000, life.pid).find((r) => r.oom)?.file : undefined;
    if (oomReport) return memberFate({ oomReport });
    return memberFate({ oomKilled: run.oomKillsRose(this.deps.oomKills?.()) });
  }

  update(settings: WatcherSettings): void {
    const intervalChanged = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    this.deps.sampler.resize(historySize(settings));
    if (intervalChanged && this.run) this.schedule();
  }

  /** A node process of the run registered its probe (its main thread). */
  registered(pid: number, argv: string[]): void {
    if (this.run) this.deps.sampler.registered(pid, this.run.pid, argv);
  }

  /** A heap reading under pressure is decided on now: a fast leak can die within a tick. */
  heapArrived(fraction: number): void {
    if (!this.run || this.soon || fraction < this.settings.thresholds.heapWarning) return;
    this.soon = setImmediate(() => {
      this.soon = undefined;
      this.tick(false);
    });
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
  }

  /** `readHeaps`: false when deciding on a reading that just arrived (Sampler.tick). */
  private tick(readHeaps = true): void {
    const run = this.run;
    if (!run) return;
    try {
      const sample = this.deps.sampler.tick(run.pid, readHeaps);
      this.last = sample;
      this.deps.metrics.observeTick(sample);
      run.memory.add(sample.processes);
      run.lastReading = lastLiving(run.lastReading, sample.processes);
      const { thresholds } = this.settings;
      run.heapNearLimit = sample.processes.some((p) => p.heapUsed !== undefined && p.heapLimit && p.heapUsed / p.heapLimit >= thresholds.heapCritical);
      run.gate.retain(new Set(sample.processes.flatMap((p) => [isolateKey(p.pid), ...(p.workers ?? []).map((w) => isolateKey(p.pid, w.thread))])));
      const { state, actions } = decide(this.policy, { sample }, thresholds);
      this.policy = state;
      this.dispatch(run, actions);
      this.outcomes = afterTick(this.outcomes);
    } catch (err) {
      const message = (err as Error).message;
      this.outcomes = afterTick(this.outcomes, message);
      this.deps.log.error({ err: message, failed_in_a_row: this.outcomes.failedInARow }, 'tick failed');
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

/** A process's worker threads in its processes.jsonl line: how many, and the largest heap one of them reached. */
function workerFields(w: NonNullable<ProcessLife['workers']>): Record<string, number> {
  return {
    worker_threads: w.seen,
    ...(w.peakHeap === undefined ? {} : { peak_worker_heap_mb: wholeMb(w.peakHeap) }),
    ...(w.limit === undefined ? {} : { worker_heap_limit_mb: wholeMb(w.limit) }),
  };
}
