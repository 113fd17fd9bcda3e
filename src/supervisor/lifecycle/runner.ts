// The run state machine: preflight → start → run → classify → restart or exit, with the stop sequence (forward,
// grace, SIGKILL the whole tree) able to cut in at any phase.
import { setTimeout as sleep } from 'node:timers/promises';
import { SpawnError } from '../../common/errors.js';
import { boundedMemory, memoryBound } from '../../platform/sysmem.js';
import type { Config } from '../../config/config.js';
import type { Notice } from '../act/executor.js';
import type { Metrics } from '../control/metrics.js';
import type { Journal } from '../journal/journal.js';
import { RunReports, type FatalReport } from '../journal/reports.js';
import { LAST_STDERR_LINES } from '../output/agent-output.js';
import type { ProcessTree } from '../proc/tree.js';
import { redactArgv, redactText } from '../../common/redact.js';
import { classifyExit, exitCodeOf } from './classify.js';
import type { ExitReason } from '../journal/run-line.js';
import { JOB_STOP_SIGNALS, JobControl } from '../terminal/job-control.js';
import { endLeftovers } from '../orphans/leftovers.js';
import { runIdOf, type Agent, type Launcher } from './launch.js';
import { MEMORY_REASONS, decideRestart, initialRestartState, type RestartState } from './restart.js';
import { Run } from './run.js';
import type { Terminal } from '../terminal/terminal.js';
import type { Watcher } from './watcher.js';
import type { Ledger } from '../orphans/ledger.js';

export type Phase = 'starting' | 'preflight' | 'running' | 'backoff' | 'stopping' | 'exited';

/** How the supervisor should end: with the agent's code, or dying of the signal the agent died of. */
export interface Outcome {
  code: number;
  signal: NodeJS.Signals | null;
}

const STOP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM']);
const PREFLIGHT_MAX_WAIT_MS = 30_000;
/** How long a run's end waits for its output pipes to be read to their end (a leftover may hold them open). */
const OUTPUT_SETTLE_MS = 2000;

/** The run's last stderr lines: read from its pipe, or else what its fatal-error reports say Node printed. */
function lastStderr(agent: Agent, reports: readonly FatalReport[]): { lines: string[]; source: 'stderr' | 'report' } {
  if (agent.output?.readsStderr) return { lines: agent.output.lastStderr(), source: 'stderr' };
  return { lines: reports.flatMap((r) => r.stderr).map(redactText).slice(-LAST_STDERR_LINES), source: 'report' };
}

export interface RunnerDeps {
  config: Config;
  argv: string[];
  launcher: Launcher;
  tree: ProcessTree;
  terminal?: Terminal;
  /** Absent with --no-watch. */
  watcher?: Watcher;
  journal: Journal;
  metrics: Metrics;
  notice: Notice;
  reportDir: string;
  /** The OOM kills the kernel counted in the supervisor's cgroup; absent without a readable one. */
  oomKills?: () => number | undefined;
  supervisorId: string;
  /** Written as the run's tree changes: what ends the tree if the supervisor is killed. */
  ledger: Ledger;
  /** The stop sequence started: what is in flight towards the agents (a snapshot can take minutes) is cut short. */
  onStop?: () => void;
}

interface RunOutcome {
  /** A person asked for a fresh run: no backoff, not a failure. */
  restartRequested: boolean;
  exitCode: number;
  reason: ExitReason;
  code: number | null;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
}

export class Runner {
  phase: Phase = 'starting';
  restarts = 0;
  /** When the backoff ends and the next run starts (epoch ms), while in backoff. */
  restartAt?: number;
  private current?: Run;
  private restartState: RestartState = initialRestartState;
  private stop?: { signal: NodeJS.Signals; deadline: number };
  private readonly stopWaits = new AbortController();
  private readonly hurry = new AbortController();
  private killTimer?: NodeJS.Timeout;
  private early: NodeJS.Signals[] = [];
  private readonly jobs: JobControl;
  private readonly reports: RunReports;

  constructor(private readonly deps: RunnerDeps) {
    this.jobs = new JobControl(deps.tree, deps.terminal, deps.journal.log);
    this.reports = new RunReports(deps.reportDir);
  }

  get run(): Run | undefined {
    return this.current;
  }

  get stopping(): boolean {
    return this.stop !== undefined;
  }

  /**
   * Runs the agent until it ends for good. `first` is a run the supervisor started while it was loading, and
   * `early` the signals it received meanwhile: they reach that run as soon as it is ours.
   */
  async runAll(first?: Agent, early: NodeJS.Signals[] = []): Promise<Outcome> {
    this.early = early;
    const { config, notice, journal, metrics } = this.deps;
    let last: RunOutcome | undefined;
    try {
      for (let runNo = 1; ; runNo++) {
        let outcome: RunOutcome;
        try {
          const started = runNo === 1 ? first : undefined;
          if (!started) {
            this.phase = 'preflight';
            if (!(await this.preflight())) break;
          }
          const runId = runIdOf(this.deps.supervisorId, runNo);
          outcome = await this.runOnce(runId, started ?? this.deps.launcher.start(runId));
        } catch (err) {
          if (!(err instanceof SpawnError)) throw err;
          notice(err.message, true);
          journal.log.error({ err: err.message }, 'agent could not be started');
          return { code: err.exitCode, signal: null };
        }
        last = outcome;
        metrics.countExit(outcome.reason);
        if (this.stop) break;
        if (outcome.restartRequested) {
          this.restarts++;
          metrics.countRestart('requested');
          journal.log.info({ restarts: this.restarts }, 'agent restarted on request');
          continue;
        }
        const decision = decideRestart(
          this.restartState,
          { reason: outcome.reason, signal: outcome.signal, code: outcome.code, uptimeMs: outcome.uptimeMs },
          config,
          Date.now(),
          Math.random(),
        );
        this.restartState = decision.state;
        if (decision.action === 'exit') break;
        if (decision.action === 'give-up') {
          notice(`${decision.message}; exiting with ${outcome.exitCode}`, true);
          journal.log.error({ exitCode: outcome.exitCode }, decision.message);
          break;
        }
        this.restarts++;
        metrics.countRestart(outcome.reason);
        this.phase = 'backoff';
        notice(`agent ended (${outcome.reason}, exit ${outcome.exitCode}); restarting in ${(decision.delayMs / 1000).toFixed(1)} s`, true);
        journal.log.info({ reason: outcome.reason, delayMs: decision.delayMs, restarts: this.restarts }, 'restart scheduled');
        this.restartAt = Date.now() + decision.delayMs;
        await sleep(decision.delayMs, undefined, { signal: this.stopWaits.signal }).catch(() => {});
        this.restartAt = undefined;
        if (this.stop) break;
      }
    } finally {
      clearTimeout(this.killTimer);
      this.phase = 'exited';
    }
    if (last) return { code: last.exitCode, signal: last.signal };
    // Stopped before any agent ran: end as the signal that stopped us.
    return this.stop ? { code: exitCodeOf(null, this.stop.signal), signal: this.stop.signal } : { code: 0, signal: null };
  }

  /** A signal for the agent, from outside (kill, a service manager) or from the terminal while we held it. */
  signal(signal: NodeJS.Signals): void {
    const { tree, journal } = this.deps;
    journal.log.info({ signal }, 'signal received');
    if (JOB_STOP_SIGNALS.has(signal)) {
      this.jobs.stopRequested(signal, this.current !== undefined);
      return;
    }
    if (signal === 'SIGCONT') {
      // Not the run's pid once it is reaped: its number may belong to another process's group since.
      this.jobs.resumed(tree.agent);
      return;
    }
    if (!STOP_SIGNALS.has(signal)) {
      if (this.current) tree.signalAll(signal, []);
      return;
    }
    if (this.stop) {
      // A second interrupt means now: no more grace.
      this.hurry.abort();
      this.killAll();
      return;
    }
    const { killTimeoutMs } = this.deps.config;
    this.stop = { signal, deadline: Date.now() + killTimeoutMs };
    this.phase = 'stopping';
    this.stopWaits.abort();
    this.deps.onStop?.();
    if (this.current) {
      tree.signalAll(signal);
      this.killTimer = setTimeout(() => this.killAll(), killTimeoutMs);
    }
  }

  private killAll(): void {
    this.deps.tree.killAll().catch((err: Error) => this.deps.journal.log.error({ err: err.message }, 'the tree could not be killed'));
  }

  /** Waits, with backoff, while the machine lacks the memory to start an agent; false if stopped meanwhile. */
  private async preflight(): Promise<boolean> {
    const { minFreeMb } = this.deps.config;
    for (let waitMs = 1000; !this.stop; waitMs = Math.min(waitMs * 2, PREFLIGHT_MAX_WAIT_MS)) {
      const mem = boundedMemory(memoryBound());
      if (mem.available_mb >= minFreeMb) return true;
      const why = `only ${mem.available_mb} MB of memory available (--min-free ${minFreeMb}); waiting ${waitMs / 1000} s before starting the agent`;
      this.deps.journal.log.warn({ system_memory: mem }, why);
      this.deps.notice(why, true);
      await sleep(waitMs, undefined, { signal: this.stopWaits.signal }).catch(() => {});
    }
    return false;
  }

  private async runOnce(runId: string, agent: Agent): Promise<RunOutcome> {
    const { config, argv, tree, terminal, watcher, journal, metrics, notice } = this.deps;
    const { log } = journal;
    const { startedAt } = agent;
    agent.events.stopped = (signal) => this.jobs.agentStopped(signal);
    agent.events.continued = () => log.info('agent continued');
    const run = new Run(runId, agent.pid, redactArgv(argv), startedAt, (r) => this.endRun(r));
    run.startOomKills(this.deps.oomKills?.());
    this.current = run;
    for (const signal of this.early.splice(0)) this.signal(signal);
    log.info({ run: runId, agent_pid: agent.pid, argv: run.argv }, 'agent started');
    this.phase = 'running';
    metrics.agentRunning(true);
    watcher?.start(run);
    const keepLedger = () => {
      // With the watch on, its ticks scan the tree; without it, the ledger is the only reason to look.
      const members = watcher ? tree.lastScan : tree.scan();
      const all = members.some((m) => m.pid === run.pid) ? members : [{ pid: run.pid, startTime: agent.startTime }, ...members];
      this.deps.ledger.update({ record: run.progress(this.restarts, Date.now()), pgid: run.pid, members: all, mark: tree.runMark }, Date.now());
    };
    keepLedger();
    const ledgerTimer = setInterval(keepLedger, config.intervalMs);
    const { code, signal } = await agent.exited;
    clearInterval(ledgerTimer);
    watcher?.stop();
    metrics.agentRunning(false);
    terminal?.reclaim();
    if (!this.stop) this.phase = 'starting';
    tree.agentExited();
    const uptimeMs = Date.now() - startedAt;

    const survivors = await endLeftovers(run, this.deps, this.stop, this.hurry.signal);
    // What the agent wrote just before it died is still in the pipes: read to their end before it is written down.
    await agent.output?.settled(OUTPUT_SETTLE_MS);
    if (survivors.length > 0 && config.orphans === 'kill') {
      log.error({ pids: survivors.map((p) => p.pid) }, 'processes of the run survived SIGKILL');
    }
    // Captures started before the death finish (or time out) before the run is written down.
    await run.settled();
    this.current = undefined;

    const reports = this.reports.claim(startedAt - 1000);
    const limit = code === 0 ? undefined : run.endedByLimit(Date.now(), config.killTimeoutMs);
    // The counter is read only for an agent that died of SIGKILL: the kernel's OOM killer's signal.
    const killed = signal === 'SIGKILL' || code === exitCodeOf(null, 'SIGKILL');
    const oomKillsNow = killed ? this.deps.oomKills?.() : undefined;
    const reason = classifyExit({
      code,
      signal,
      stoppedBySupervisor: this.stop !== undefined || run.ending?.kind === 'restart',
      limitExceeded: limit !== undefined,
      oomReport: reports.some((r) => r.oom),
      workerOom: run.agentWorkerOom,
      heapNearLimit: run.heapNearLimit,
      oomKilled: oomKillsNow !== undefined && run.oomKillsAtStart !== undefined && oomKillsNow > run.oomKillsAtStart,
    });
    const exitCode = exitCodeOf(code, signal);
    const why = run.ending?.why ?? limit?.why;
    journal.runs.info(
      run.record({
        endedAt: Date.now(),
        code: exitCode,
        signal,
        reason,
        ...(why ? { why } : {}),
        restarts: this.restarts,
        reports: reports.map((r) => r.file),
        memory: MEMORY_REASONS.has(reason),
        lastStderr: lastStderr(agent, reports),
      }),
    );
    if (reason === 'oom-kill') notice(`the kernel's OOM killer ended the agent (pid ${agent.pid}, SIGKILL)${memoryBound() ? ` at ${memoryBound()!.source}` : ''}; its last reading is in runs.jsonl`, true);
    this.deps.ledger.clear();
    log.info({ run: runId, agent_pid: agent.pid, code, signal, reason, uptimeMs }, 'agent ended');
    return { exitCode, reason, code, signal, uptimeMs, restartRequested: !this.stop && run.ending?.kind === 'restart' };
  }

  /** The supervisor ends the run itself: a memory rule (limit) or a request for a fresh run (restart). */
  private async endRun(run: Run): Promise<void> {
    const ending = run.ending!;
    this.deps.journal.log.warn({ run: run.id, kind: ending.kind, why: ending.why }, 'ending the run');
    if (ending.kind === 'limit') this.deps.notice(`memory limit: ${ending.why}; ending the run`, true);
    await this.deps.tree.terminate('SIGTERM', this.deps.config.killTimeoutMs, this.hurry.signal);
  }
}
