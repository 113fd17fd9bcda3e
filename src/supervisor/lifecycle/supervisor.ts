// Composition root and the agent's lifecycle: preflight → run → classify → restart or exit, with the stop
// sequence (forward, grace, SIGKILL the whole tree) able to cut in at any phase.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { analyzeCapture, closeSharedAnalysisPool, topSites } from '../../analysis/index.js';
import { Executor, type ExecutorOptions } from '../act/executor.js';
import { classifyExit, exitCodeOf, type ExitReason } from './classify.js';
import { patchConfig, type Config } from '../../config/config.js';
import { startControl, type ControlServer } from '../control/server.js';
import type { CaptureProgress, CaptureRequest, ControlHandlers, StatusView } from '../control/protocol.js';
import { Refused, SpawnError } from '../../common/errors.js';
import { openJournal, type Journal } from '../journal/journal.js';
import { agentEnv, spawnAgent } from './launch.js';
import { loadLibc } from '../proc/libc.js';
import { Inspectors } from '../probe-link/sessions.js';
import { Metrics } from '../control/metrics.js';
import { decide, initialPolicyState, type Action, type PolicyState, type Thresholds } from '../watch/policy.js';
import { Registry } from '../probe-link/registry.js';
import { collectReports, pruneReports } from '../journal/reports.js';
import { decideRestart, initialRestartState, type RestartPolicy, type RestartState } from './restart.js';
import { Sampler, type Tick } from '../watch/sampler.js';
import { ensurePrivateDir, socketPathFor, statePaths, type StatePaths } from '../../common/statedir.js';
import { systemMemory } from '../proc/sysmem.js';
import { ProcessTree, type ProcStat } from '../proc/tree.js';
import { emptyLevelCounts, processViews, treeView } from '../control/views.js';
import { MB, wholeMb } from '../../common/units.js';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
const STOP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM']);
const REPORTS_KEPT = 20;
const PREFLIGHT_MAX_WAIT_MS = 30_000;
/** An inspector call that takes longer has an agent blocked in synchronous code; RSS from /proc stands in. */
const CDP_TIMEOUT_MS = 2000;

export const PROBE_PATH = fileURLToPath(new URL('../../probe/probe.cjs', import.meta.url));
export const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type Phase = 'starting' | 'preflight' | 'running' | 'backoff' | 'stopping' | 'exited';

export interface SupervisorOptions {
  config: Config;
  command: string;
  args: string[];
  /** One line for a person on stderr; the only output the supervisor ever adds to the terminal. */
  notice: (message: string) => void;
  /** The umask the agent must get: the user's, not the supervisor's private 0077. */
  userUmask: number;
}

interface RunOutcome {
  /** A person asked for a fresh run: no backoff, not a failure. */
  restartRequested: boolean;
  exitCode: number;
  reason: ExitReason;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
}

/** Whole-tree RSS over a run: where it started, its peak and where it ended. */
class RunMemory {
  startMb?: number;
  peakMb = 0;
  endMb = 0;
  add(tick: Tick): void {
    if (tick.processes.length === 0) return;
    const mb = wholeMb(tick.processes.reduce((sum, p) => sum + p.rssBytes, 0));
    this.startMb ??= mb;
    this.peakMb = Math.max(this.peakMb, mb);
    this.endMb = mb;
  }
}

interface CurrentRun {
  id: string;
  pid: number;
  startedAt: number;
  memory: RunMemory;
  /** Some process of the run had its heap past the critical fraction at the last reading. */
  heapNearLimit: boolean;
  /** Why the supervisor itself is ending this run, if it is. */
  ending?: { kind: 'limit' | 'restart'; why: string };
  /** Actions started by ticks of this run and not yet finished. */
  inflight: Set<Promise<unknown>>;
}

export function thresholdsOf(c: Config): Thresholds {
  return {
    warningMb: c.warning,
    criticalMb: c.critical,
    hardMb: c.hard,
    treeWarningMb: c.treeWarning,
    treeCriticalMb: c.treeCritical,
    treeHardMb: c.treeHard,
    heapWarning: c.heapWarning,
    heapCritical: c.heapCritical,
    heapImminent: c.heapImminent,
    fdWarning: c.fdWarning,
    connInfo: c.connInfo,
    connWarning: c.connWarning,
    connCritical: c.connCritical,
    trendWindowMs: c.trendWindow,
    trendMinMbPerMin: c.trendMinRate,
    trendHorizonMin: c.trendHorizon,
    trendMinConfidence: 0.8,
  };
}

const HISTORY_MIN = 60;
const HISTORY_MAX = 3600;

export class Supervisor {
  private readonly paths: StatePaths;
  private readonly tree: ProcessTree;
  private journal!: Journal;
  private child?: ChildProcess;
  private stop?: { signal: NodeJS.Signals; deadline: number };
  private readonly stopWaits = new AbortController();
  private readonly hurry = new AbortController();
  private killTimer?: NodeJS.Timeout;
  private restartState: RestartState = initialRestartState;
  private restarts = 0;
  private readonly supervisorId = randomUUID().slice(0, 8);
  private readonly onSignal = (signal: NodeJS.Signals) => this.handleSignal(signal);
  private readonly subreaperError?: string;
  private sampler!: Sampler;
  private executor!: Executor;
  private registry?: Registry;
  private inspectors?: Inspectors;
  private policyState: PolicyState = initialPolicyState;
  private thresholds: Thresholds;
  private current?: CurrentRun;
  private ticking = false;
  private ticker?: NodeJS.Timeout;
  private lastTick?: Tick;
  private phase: Phase = 'starting';
  private readonly startedAt = Date.now();
  private readonly metrics = new Metrics();
  private readonly alertCounts = emptyLevelCounts();
  private control?: ControlServer;
  private executorOpts!: ExecutorOptions;

  constructor(private readonly opts: SupervisorOptions) {
    this.paths = statePaths(opts.config.stateDir);
    const loaded = loadLibc();
    if ('libc' in loaded && loaded.libc.becomeSubreaper()) {
      this.tree = new ProcessTree(loaded.libc);
    } else {
      this.subreaperError = 'error' in loaded ? loaded.error : 'prctl(PR_SET_CHILD_SUBREAPER) failed';
      this.tree = new ProcessTree(undefined);
    }
    this.thresholds = thresholdsOf(opts.config);
  }

  /** Runs the agent until it ends for good; resolves with the exit code the supervisor should exit with. */
  async run(): Promise<number> {
    const { config } = this.opts;
    ensurePrivateDir(this.paths.root);
    ensurePrivateDir(this.paths.reports);
    ensurePrivateDir(config.capturesDir);
    if (config.inspect && !existsSync(PROBE_PATH)) {
      throw new Error(`the probe is missing at ${PROBE_PATH}: run npm run build`);
    }
    this.journal = openJournal({ logFile: this.paths.log, runsFile: this.paths.runs, alertsFile: this.paths.alerts });
    const { log } = this.journal;
    log.info({ command: this.opts.command, args: this.opts.args, config }, 'supervisor started');
    if (this.subreaperError) {
      log.warn({ err: this.subreaperError }, 'cannot become child subreaper; orphans are tracked through /proc only');
    }
    try {
      this.executor = this.createExecutor();
      // First, because it refuses to start when another supervisor already answers in this state dir.
      this.control = await startControl(this.controlHandlers(), {
        stateDir: this.paths.root,
        metrics: this.metrics,
        log,
        ...(config.controlPort ? { controlPort: config.controlPort } : {}),
        ...(config.metricsPort ? { metricsPort: config.metricsPort, metricsHost: config.metricsHost } : {}),
      });
      if (config.inspect) await this.instrument();
      const historySize = Math.min(HISTORY_MAX, Math.max(HISTORY_MIN, Math.ceil(config.trendWindow / config.interval) + 1));
      this.sampler = new Sampler(
        this.tree,
        this.inspectors,
        historySize,
        (pid) => this.registry?.get(pid)?.argv,
        () => this.thresholds.heapWarning,
      );
      for (const s of FORWARDED_SIGNALS) process.on(s, this.onSignal);
      return await this.lifecycle();
    } finally {
      for (const s of FORWARDED_SIGNALS) process.off(s, this.onSignal);
      clearTimeout(this.killTimer);
      this.phase = 'exited';
      await this.control?.close();
      await this.executor?.drain();
      await closeSharedAnalysisPool();
      await this.inspectors?.closeAll();
      await this.registry?.close();
      log.info('supervisor exiting');
      await this.journal.close();
    }
  }

  private createExecutor(): Executor {
    const { config } = this.opts;
    return new Executor(
      {
        journal: this.journal,
        // Read at each action: the inspectors exist only once the registry listens.
        instruments: () => this.inspectors,
        notify: (pid, message) => this.registry?.send(pid, { ...message }) ?? false,
        nodePids: () => this.nodePids(),
        notice: this.opts.notice,
        runId: () => this.current?.id,
        agentPid: () => this.current?.pid,
        endRun: (kind, why) => this.endRun(kind, why),
        reap: () => void this.tree.scan(),
        onAlert: (level) => {
          this.alertCounts[level]++;
          this.metrics.countAlert(level);
        },
        onCapture: (kind) => this.metrics.countCapture(kind),
        // Profiles are small; a snapshot can be gigabytes and is analysed only when a person asks (analyze).
        analyze: async (file) => (file.endsWith('.heapprofile') ? { top: topSites(await analyzeCapture(file), 5) } : undefined),
      },
      (this.executorOpts = { cooldownMs: config.cooldown * 1000, maxCapturesPerRun: config.maxCaptures, killTimeoutMs: config.killTimeout }),
    );
  }

  /** The registry the probes report to, and one inspector session per node process that registers. */
  private async instrument(): Promise<void> {
    const { config } = this.opts;
    const { log } = this.journal;
    const registry = await Registry.listen(socketPathFor(this.paths.root, 'registry.sock'));
    const inspectors = new Inspectors({
      registry,
      samplingInterval: config.samplingInterval,
      callTimeoutMs: CDP_TIMEOUT_MS,
      capturesDir: config.capturesDir,
      log,
      retention: { maxFiles: config.capturesKeep, maxBytes: config.capturesMaxMb * MB },
    });
    registry.on('register', (rec) => {
      log.info({ pid: rec.pid, ppid: rec.ppid, argv: rec.argv }, 'node process registered');
      inspectors.attach(rec).catch((err: Error) => log.warn({ pid: rec.pid, err: err.message }, 'inspector: attach failed'));
    });
    registry.on('error', (err) => log.warn({ err: err.message }, 'registry error'));
    this.registry = registry;
    this.inspectors = inspectors;
  }

  private async lifecycle(): Promise<number> {
    const { config, notice } = this.opts;
    const policy: RestartPolicy = {
      mode: config.restart,
      backoffMs: config.backoff,
      backoffMaxMs: config.backoffMax,
      minUptimeMs: config.minUptime,
      maxRestarts: config.maxRestarts,
      windowMs: config.restartWindow,
    };
    let exitCode: number | undefined;
    for (let runNo = 1; ; runNo++) {
      this.phase = 'preflight';
      if (!(await this.preflight())) break;
      let outcome: RunOutcome;
      try {
        outcome = await this.runOnce(`${this.supervisorId}-${runNo}`);
      } catch (err) {
        if (!(err instanceof SpawnError)) throw err;
        notice(err.message);
        this.journal.log.error({ err: err.message }, 'agent could not be started');
        return err.exitCode;
      }
      exitCode = outcome.exitCode;
      this.metrics.countExit(outcome.reason);
      if (this.stop) break;
      if (outcome.restartRequested) {
        this.restarts++;
        this.metrics.countRestart('requested');
        notice('agent restarted on request');
        continue;
      }
      const decision = decideRestart(
        this.restartState,
        { reason: outcome.reason, signal: outcome.signal, uptimeMs: outcome.uptimeMs },
        policy,
        Date.now(),
        Math.random(),
      );
      this.restartState = decision.state;
      if (decision.action === 'exit') break;
      if (decision.action === 'give-up') {
        notice(`${decision.message}; exiting with ${exitCode}`);
        this.journal.log.error({ exitCode }, decision.message);
        break;
      }
      this.restarts++;
      this.metrics.countRestart(outcome.reason);
      this.phase = 'backoff';
      notice(`agent ended (${outcome.reason}, exit ${exitCode}); restarting in ${(decision.delayMs / 1000).toFixed(1)} s`);
      this.journal.log.info({ reason: outcome.reason, delayMs: decision.delayMs, restarts: this.restarts }, 'restart scheduled');
      await sleep(decision.delayMs, undefined, { signal: this.stopWaits.signal }).catch(() => {});
      if (this.stop) break;
    }
    // Stopped before any agent ran: report the signal as a shell would.
    return exitCode ?? (this.stop ? exitCodeOf(null, this.stop.signal) : 0);
  }

  /** Waits, with backoff, while the machine lacks the memory to start an agent; false if stopped meanwhile. */
  private async preflight(): Promise<boolean> {
    const { minFree } = this.opts.config;
    for (let waitMs = 1000; !this.stop; waitMs = Math.min(waitMs * 2, PREFLIGHT_MAX_WAIT_MS)) {
      const mem = systemMemory();
      if (mem.available_mb >= minFree) return true;
      const why = `only ${mem.available_mb} MB of memory available (--min-free ${minFree}); waiting ${waitMs / 1000} s before starting the agent`;
      this.journal.log.warn({ system_memory: mem }, why);
      this.opts.notice(why);
      await sleep(waitMs, undefined, { signal: this.stopWaits.signal }).catch(() => {});
    }
    return false;
  }

  private async runOnce(runId: string): Promise<RunOutcome> {
    const { config, command, args } = this.opts;
    const { log } = this.journal;
    const startedAt = Date.now();
    const env = agentEnv(process.env, {
      heapLimitMb: config.heapLimit,
      reportDir: this.paths.reports,
      probePath: config.inspect ? PROBE_PATH : undefined,
      registrySocket: this.registry?.socketPath,
    });
    const child = spawnAgent(command, args, env, this.opts.userUmask);
    const spawnError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawnError) {
      const notFound = spawnError.code === 'ENOENT';
      throw new SpawnError(`${command}: ${notFound ? 'command not found' : (spawnError.code ?? spawnError.message)}`, notFound);
    }
    const pid = child.pid!;
    this.child = child;
    this.tree.beginRun(pid);
    this.sampler.reset();
    this.policyState = initialPolicyState;
    this.executor.newRun();
    const run: CurrentRun = { id: runId, pid, startedAt, memory: new RunMemory(), heapNearLimit: false, inflight: new Set() };
    this.current = run;
    log.info({ run: runId, agent_pid: pid, argv: [command, ...args] }, 'agent started');
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.phase = 'running';
    this.metrics.agentRunning(true);
    this.restartTicker();
    const { code, signal } = await exited;
    clearInterval(this.ticker);
    this.metrics.agentRunning(false);
    if (!this.stop) this.phase = 'starting';
    this.child = undefined;
    this.tree.agentExited();
    const uptimeMs = Date.now() - startedAt;

    let survivors: ProcStat[];
    if (this.stop) {
      survivors = await this.tree.terminate(this.stop.signal, this.stop.deadline - Date.now(), this.hurry.signal);
    } else if (config.orphans === 'kill' || run.ending) {
      survivors = await this.tree.terminate('SIGTERM', config.killTimeout, this.hurry.signal);
    } else {
      survivors = this.tree.scan();
      this.tree.release(survivors);
      if (survivors.length > 0) log.info({ pids: survivors.map((p) => p.pid) }, "leaving the run's other processes running (--orphans keep)");
    }
    if (survivors.length > 0 && config.orphans === 'kill') {
      log.error({ pids: survivors.map((p) => p.pid) }, 'processes of the run survived SIGKILL');
    }
    // Captures started before the death finish (or time out) before the run is written down.
    await Promise.allSettled([...run.inflight]);
    this.current = undefined;

    const reports = collectReports(this.paths.reports, startedAt - 1000);
    pruneReports(this.paths.reports, REPORTS_KEPT);
    const reason = classifyExit({
      code,
      signal,
      stoppedBySupervisor: this.stop !== undefined || run.ending?.kind === 'restart',
      limitExceeded: run.ending?.kind === 'limit',
      oomReport: reports.some((r) => r.oom),
      heapNearLimit: run.heapNearLimit,
    });
    const exitCode = exitCodeOf(code, signal);
    const record = this.executor.newRun();
    this.journal.runs.info({
      run_id: runId,
      pid,
      argv: [command, ...args],
      start_mb: run.memory.startMb ?? 0,
      peak_mb: run.memory.peakMb,
      end_mb: run.memory.endMb,
      duration_seconds: Math.round(uptimeMs) / 1000,
      warnings: record.warnings,
      exit: { code: exitCode, signal, reason, ...(run.ending ? { why: run.ending.why } : {}) },
      aborted: reason === 'stopped' || reason === 'limit',
      restarts: this.restarts,
      captures: record.captures,
      reports: reports.map((r) => r.file),
    });
    log.info({ run: runId, agent_pid: pid, code, signal, reason, uptimeMs }, 'agent ended');
    return { exitCode, reason, signal, uptimeMs, restartRequested: !this.stop && run.ending?.kind === 'restart' };
  }

  private restartTicker(): void {
    clearInterval(this.ticker);
    void this.tick();
    this.ticker = setInterval(() => void this.tick(), this.opts.config.interval);
  }

  /** One observation and the policy's answer. A tick still running (an inspector timing out) is not stacked. */
  private async tick(): Promise<void> {
    const run = this.current;
    if (this.ticking || !run) return;
    this.ticking = true;
    try {
      const sample = await this.sampler.tick(run.pid);
      if (run !== this.current) return;
      this.lastTick = sample;
      this.metrics.observeTick(sample);
      run.memory.add(sample);
      run.heapNearLimit = sample.processes.some((p) => p.heapUsed !== undefined && p.heapLimit && p.heapUsed / p.heapLimit >= this.thresholds.heapCritical);
      this.executor.gate.retain(new Set(sample.processes.map((p) => p.pid)));
      const { state, actions } = decide(
        this.policyState,
        {
          sample,
          heapHistory: (pid) => this.sampler.history(pid).flatMap((h) => (h.heapUsed === undefined ? [] : [{ t: h.t, v: h.heapUsed }])),
        },
        this.thresholds,
      );
      this.policyState = state;
      this.dispatch(run, actions);
    } catch (err) {
      this.journal.log.error({ err: (err as Error).message }, 'tick failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Alerts are written at once; the rest run in order, off the tick, so a slow capture never delays sampling. */
  private dispatch(run: CurrentRun, actions: Action[]): void {
    const rest: Action[] = [];
    for (const a of actions) {
      if (a.kind === 'alert') void this.executor.execute(a);
      else rest.push(a);
    }
    if (rest.length === 0) return;
    const job = (async () => {
      for (const a of rest) {
        await this.executor.execute(a).catch((err: Error) => this.journal.log.info({ action: a, err: err.message }, 'action not taken'));
      }
    })();
    run.inflight.add(job);
    void job.finally(() => run.inflight.delete(job));
  }

  /** The supervisor ends the run itself: a memory rule (limit) or a request for a fresh run (restart). */
  private async endRun(kind: 'limit' | 'restart', why: string): Promise<void> {
    const run = this.current;
    if (!run || run.ending) return;
    run.ending = { kind, why };
    this.journal.log.warn({ run: run.id, kind, why }, 'ending the run');
    if (kind === 'limit') this.opts.notice(`memory limit: ${why}; ending the run`);
    await this.tree.terminate('SIGTERM', this.opts.config.killTimeout, this.hurry.signal);
  }

  private handleSignal(signal: NodeJS.Signals): void {
    this.journal.log.info({ signal }, 'signal received');
    if (!STOP_SIGNALS.has(signal)) {
      if (this.child) this.tree.signalAll(signal, []);
      return;
    }
    if (this.stop) {
      // A second interrupt means now: no more grace.
      this.hurry.abort();
      void this.tree.killAll();
      return;
    }
    const { killTimeout } = this.opts.config;
    this.stop = { signal, deadline: Date.now() + killTimeout };
    this.phase = 'stopping';
    this.stopWaits.abort();
    if (this.child) {
      this.tree.signalAll(signal);
      this.killTimer = setTimeout(() => void this.tree.killAll(), killTimeout);
    }
  }

  private controlHandlers(): ControlHandlers {
    return {
      status: () => this.statusView(),
      processes: () =>
        processViews(this.lastTick, this.policyState, (pid) => this.sampler.history(pid), {
          windowMs: this.thresholds.trendWindowMs,
          minConfidence: this.thresholds.trendMinConfidence,
        }),
      capture: (req, progress) => this.manualCapture(req, progress),
      gc: async ({ pid }) => {
        const pids = pid === undefined ? this.nodePids() : [pid];
        const results = await Promise.all(pids.map((p) => this.executor.gc(p, 'manual', true)));
        const role = (p: number) => this.lastTick?.processes.find((x) => x.pid === p)?.role;
        return { results: results.map((r) => ({ pid: r.pid, role: role(r.pid), before_bytes: r.beforeBytes, after_bytes: r.afterBytes })) };
      },
      cleanup: async () => {
        const r = await this.executor.cleanup('manual', true);
        return { summary: `collected garbage in ${r.gc.length} node processes, notified ${r.notified} probes`, ...r };
      },
      restart: async () => {
        const run = this.current;
        if (!run || run.ending || this.stop) throw new Refused('no agent run to restart right now');
        await this.executor.execute({ kind: 'restart', reason: 'requested on the control socket' }, true);
        return { run_id: run.id };
      },
      getConfig: () => ({ ...this.opts.config }),
      patchConfig: (patch) => {
        const next = patchConfig(this.opts.config, patch);
        const intervalChanged = next.interval !== this.opts.config.interval;
        Object.assign(this.opts.config, next);
        this.thresholds = thresholdsOf(next);
        this.executorOpts.cooldownMs = next.cooldown * 1000;
        if (intervalChanged && this.current) this.restartTicker();
        this.journal.log.info({ patch }, 'configuration changed at run time');
        return { ...this.opts.config };
      },
    };
  }

  private nodePids(): number[] {
    return this.registry?.list().map((r) => r.pid).filter((pid) => this.inspectors?.has(pid)) ?? [];
  }

  private statusView(): StatusView {
    const c = this.opts.config;
    const run = this.current;
    return {
      supervisor: {
        pid: process.pid,
        version: VERSION,
        started_at: new Date(this.startedAt).toISOString(),
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
        state_dir: this.paths.root,
        interval_ms: c.interval,
      },
      agent: {
        phase: this.phase,
        restarts: this.restarts,
        ...(run ? { run_id: run.id, pid: run.pid, started_at: new Date(run.startedAt).toISOString() } : {}),
      },
      tree: treeView(this.lastTick, this.policyState),
      levels: { ...this.alertCounts },
      thresholds: { ...this.thresholds },
    };
  }

  /** A person's capture: the node process they name, or the one with the largest heap. */
  private async manualCapture(req: CaptureRequest, progress: (p: CaptureProgress) => void) {
    const candidates = this.nodePids();
    const heapOf = (pid: number) => this.lastTick?.processes.find((p) => p.pid === pid)?.heapUsed ?? 0;
    const pid = req.pid ?? candidates.sort((a, b) => heapOf(b) - heapOf(a))[0];
    if (pid === undefined) throw new Refused('no node process with an inspector session to capture');
    // With always-on sampling, waiting lets the profile cover what the next seconds allocate and keep.
    for (let s = 0; s < (req.seconds ?? 0); s++) {
      progress({ phase: 'sampling', done: s, total: req.seconds });
      await sleep(1000);
    }
    const r = await this.executor.capture(pid, 'manual', req.kind, true, (done, total) =>
      progress({ phase: 'writing', done, ...(total ? { total } : {}) }),
    );
    return { ...r, kind: req.kind, bytes: statSync(r.file).size };
  }
}
