// The composition root: builds the supervisor's parts in dependency order (state dir and journal, the child and
// tree machinery, the probe link, the watch and act chain, the run state machine, the control socket), wires
// signals to the run state machine, and takes it all down again in reverse order.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT, errorMessage } from '../../common/errors.js';
import { redactArgv } from '../../common/redact.js';
import { ensurePrivateDir, lockStateDir, socketPathFor, statePaths, type StatePaths } from '../../common/statedir.js';
import { MB } from '../../common/units.js';
import { VERSION } from '../../common/version.js';
import { patchConfig, shareable, type Config } from '../../config/config.js';
import { AlertChannels, type Alert } from '../act/channels.js';
import { Executor, type ExecutorLimits, type Notice } from '../act/executor.js';
import { Metrics } from '../control/metrics.js';
import type { ControlHandlers } from '../control/protocol.js';
import { startControl, type ControlServer } from '../control/server.js';
import { emptyLevelCounts } from '../control/views.js';
import { openJournal, type Journal } from '../journal/journal.js';
import { Registry } from '../probe-link/registry.js';
import { PortCaptures, probeOrPort } from '../probe-link/port-captures.js';
import { DEFAULT_SAMPLING_INTERVAL, Inspectors } from '../probe-link/sessions.js';
import { Children } from '../proc/children.js';
import { libc, type Libc } from '../../common/libc.js';
import { executableOf } from '../proc/stat.js';
import { ProcessTree } from '../proc/tree.js';
import { Sampler } from '../watch/sampler.js';
import { analyzeProfile, closeAnalysis } from './analyze-captures.js';
import { controlHandlers } from './control-adapter.js';
import { Ledger, recoverLostRun } from './ledger.js';
import { Runner, type Outcome } from './runner.js';
import { Terminal } from './terminal.js';
import { Watchdog } from './watchdog.js';
import { Watcher, historySize, type WatcherSettings } from './watcher.js';

/** Signals passed on to the agent; INT and TERM also start the stop sequence, TSTP and CONT are job control. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGTSTP', 'SIGCONT'] as const;
/** An inspector call that takes longer has an agent blocked in synchronous code; RSS from /proc stands in. */
const CDP_TIMEOUT_MS = 2000;
/** What a leaving supervisor gives its alert channels to send what they still hold. */
const CHANNELS_GRACE_MS = 5000;

export const PROBE_PATH = fileURLToPath(new URL('../../probe/probe.cjs', import.meta.url));

export interface SupervisorOptions {
  config: Config;
  argv: string[];
  /** One line for a person on stderr; the only output the supervisor ever adds to the terminal. */
  notice: Notice;
  /** The umask the agent must get: the user's, not the supervisor's private 0077. */
  userUmask: number;
  /**
   * What only a supervisor that is its own program may do (the CLI): take the process's signals and pass them to
   * the agent, hand the terminal to the agent, and end the process on an uncaught exception. A program that embeds
   * the supervisor keeps its own signals, terminal and error handling.
   */
  ownsProcess: boolean;
  /** Every alert line as it is written to alerts.jsonl. */
  onAlert?: (alert: Alert) => void;
  /** Once the control handlers exist: the same calls the control socket serves, for a program that embeds us. */
  onReady?: (handlers: ControlHandlers, signal: (signal: NodeJS.Signals) => void) => void;
}

const watcherSettings = (c: Config): WatcherSettings => ({ thresholds: c, intervalMs: c.intervalMs });
const executorLimits = (c: Config): ExecutorLimits => ({ cooldownMs: c.cooldownS * 1000, maxCapturesPerRun: c.maxCaptures, killTimeoutMs: c.killTimeoutMs });

export class Supervisor {
  private config: Config;
  private readonly paths: StatePaths;
  private readonly startedAt = Date.now();
  private readonly metrics = new Metrics();
  private readonly alertCounts = emptyLevelCounts();
  private readonly libc: Libc;
  private readonly children: Children;
  private readonly tree: ProcessTree;
  private journal?: Journal;
  private control?: ControlServer;
  private registry?: Registry;
  private sessions?: Inspectors;
  private executor?: Executor;
  private sampler?: Sampler;
  private watcher?: Watcher;
  private runner?: Runner;
  private terminal?: Terminal;
  private watchdog?: Watchdog;
  private channels?: AlertChannels;
  private readonly ledger: Ledger;
  private readonly onSignal = (signal: NodeJS.Signals) => this.runner?.signal(signal);
  private readonly onFault = (err: unknown) => this.fault(err);

  constructor(private readonly opts: SupervisorOptions) {
    this.config = { ...opts.config };
    this.paths = statePaths(this.config.stateDir);
    this.libc = libc();
    this.children = new Children(this.libc);
    this.tree = new ProcessTree(this.children.libuvOwned);
    this.ledger = new Ledger(this.paths.ledger);
  }

  /** Runs the agent until it ends for good; resolves with how the supervisor should end. */
  async run(): Promise<Outcome> {
    const { config } = this;
    // Before anything else touches the state dir: one supervisor per state dir, even when two start at once.
    const unlock = lockStateDir(this.paths.root);
    ensurePrivateDir(this.paths.reports);
    ensurePrivateDir(config.capturesDir);
    const instrumented = config.probe && config.watch;
    if (instrumented && !existsSync(PROBE_PATH)) throw new Error(`the probe is missing at ${PROBE_PATH}: run npm run build`);
    const journal = (this.journal = openJournal({
      logFile: this.paths.log,
      runsFile: this.paths.runs,
      alertsFile: this.paths.alerts,
      processesFile: this.paths.processes,
      level: config.logLevel,
      // A full disk: said once, counted in /metrics, and writing resumes by itself when space returns.
      onDrop: (name, dropped) => {
        this.metrics.countDroppedLine(name);
        if (dropped === 1) this.opts.notice(`cannot write ${name} (disk full?); lines are being dropped and counted until it can`, true);
      },
    }));
    const { log } = journal;
    log.info({ argv: redactArgv(this.opts.argv), config: shareable(config) }, 'supervisor started');
    if (this.opts.ownsProcess) {
      process.on('uncaughtException', this.onFault);
      process.on('unhandledRejection', this.onFault);
    }
    if (!this.libc.becomeSubreaper()) log.warn('cannot become child subreaper; orphans are tracked through /proc only');
    this.children.start();
    try {
      await this.recoverLostRun(journal);
      this.watchdog = new Watchdog(this.ledger.file, Math.min(config.killTimeoutMs, 1000), this.children, log);
      this.watchdog.start();
      if (instrumented) await this.linkProbes(journal);
      if (config.alertWebhook.length > 0 || config.alertExec.length > 0) this.channels = this.openChannels(journal);
      this.executor = new Executor(
        {
          instruments: probeOrPort(this.sessions, this.portCaptures(journal)),
          notify: (pid, message) => this.registry?.send(pid, { ...message }) ?? false,
          nodePids: () => this.nodePids(),
          journal,
          notice: this.opts.notice,
          reap: () => this.children.collect(),
          onAlert: (level, metric) => {
            this.alertCounts[level]++;
            this.metrics.countAlert(level, metric);
          },
          onCapture: (kind) => this.metrics.countCapture(kind),
          deliver: (alert) => {
            this.channels?.deliver(alert);
            this.opts.onAlert?.(alert);
          },
          // Profiles are small; a snapshot can be gigabytes and is analysed only when a person asks (analyze).
          analyze: (file, before) => analyzeProfile(file, before),
        },
        executorLimits(config),
      );
      if (config.watch) {
        const sampler = new Sampler(this.tree, this.sessions, {
          historySize: historySize(watcherSettings(config)),
          registeredArgv: (pid) => this.registry?.get(pid)?.argv,
          pressure: () => this.config.heapWarning,
          onHeap: (_pid, fraction) => this.watcher?.heapArrived(fraction),
          onEnded: (life, withRun) => this.watcher?.processEnded(life, withRun),
        });
        this.watcher = new Watcher({ sampler, executor: this.executor, metrics: this.metrics, log, journal }, watcherSettings(config));
        this.sampler = sampler;
      }
      this.terminal = process.pid === 1 || !this.opts.ownsProcess ? undefined : Terminal.open(this.libc);
      this.runner = new Runner({
        config,
        argv: this.opts.argv,
        libc: this.libc,
        children: this.children,
        tree: this.tree,
        ...(this.terminal ? { terminal: this.terminal } : {}),
        ...(this.watcher ? { watcher: this.watcher } : {}),
        journal,
        metrics: this.metrics,
        notice: this.opts.notice,
        launch: {
          reportDir: this.paths.reports,
          ...(this.registry ? { probePath: PROBE_PATH, registrySocket: this.registry.socketPath } : {}),
          stateDir: this.paths.root,
          supervisorPid: process.pid,
        },
        userUmask: this.opts.userUmask,
        supervisorId: randomUUID().slice(0, 8),
        ledger: this.ledger,
      });
      const handlers = controlHandlers({
          runner: this.runner,
          ...(this.watcher ? { watcher: this.watcher } : {}),
          ...(this.sampler ? { sampler: this.sampler } : {}),
          executor: this.executor,
          nodePids: () => this.nodePids(),
          instrumentation: (pid) => (this.sessions?.has(pid) ? 'probe' : this.attachable(pid) ? 'inspector' : 'rss-only'),
          inspectorUrl: (pid) => this.registry?.get(pid)?.url,
          stateDir: this.paths.root,
          version: VERSION,
          startedAt: this.startedAt,
          alertCounts: this.alertCounts,
          config: () => this.config,
          update: (patch) => this.update(patch),
      });
      this.control = await startControl(handlers, {
        stateDir: this.paths.root,
        metrics: this.metrics,
        log,
        ...(config.controlPort ? { controlPort: config.controlPort } : {}),
        ...(config.metricsPort ? { metricsPort: config.metricsPort, metricsHost: config.metricsHost } : {}),
      });
      if (this.opts.ownsProcess) for (const s of FORWARDED_SIGNALS) process.on(s, this.onSignal);
      this.opts.onReady?.(handlers, this.onSignal);
      return await this.runner.runAll();
    } finally {
      for (const s of FORWARDED_SIGNALS) process.off(s, this.onSignal);
      this.terminal?.close();
      await this.control?.close();
      await this.executor?.drain();
      await this.channels?.close(CHANNELS_GRACE_MS);
      await closeAnalysis();
      await this.sessions?.closeAll();
      await this.registry?.close();
      this.children.stop();
      this.ledger.clear();
      this.watchdog?.bye();
      log.info('supervisor exiting');
      await journal.close();
      process.off('uncaughtException', this.onFault);
      process.off('unhandledRejection', this.onFault);
      unlock();
    }
  }

  /** Node processes of the tree without a probe (their NODE_OPTIONS was stripped): reached through their inspector port. */
  private portCaptures(journal: Journal): PortCaptures {
    return new PortCaptures({
      attachable: (pid) => this.attachable(pid),
      capturesDir: this.config.capturesDir,
      retention: { maxFiles: this.config.capturesKeep, maxBytes: this.config.capturesMaxMb * MB },
      samplingIntervalBytes: this.config.samplingIntervalBytes || DEFAULT_SAMPLING_INTERVAL,
      callTimeoutMs: CDP_TIMEOUT_MS,
      log: journal.log,
    });
  }

  /** A node process of the tree that should have a probe and has none; with --no-probe nothing is attached to. */
  private attachable(pid: number): boolean {
    return this.sessions !== undefined && !this.sessions.has(pid) && this.tree.lastScan.some((p) => p.pid === pid) && executableOf(pid).node;
  }

  private openChannels(journal: Journal): AlertChannels {
    const channels = new AlertChannels({
      webhooks: this.config.alertWebhook,
      exec: this.config.alertExec,
      minLevel: this.config.alertMinLevel,
      log: journal.log,
      onDelivery: (channel, ok) => this.metrics.countDelivery(channel, ok),
      onDrop: (channel) => this.metrics.countDeliveryDrop(channel),
      // An alert command is our helper, never part of the agent's tree, and libuv waits for it.
      onSpawn: (pid) => this.children.ownedByLibuv(pid),
      onExit: (pid) => this.children.releasedByLibuv(pid),
    });
    this.metrics.alertChannels(channels.names);
    journal.log.info({ channels: channels.targets }, 'alert channels');
    return channels;
  }

  /** A supervisor of this state dir that was killed left its ledger: end what is left of its run and record it. */
  private async recoverLostRun(journal: Journal): Promise<void> {
    const lost = await recoverLostRun(this.ledger.file, this.config.killTimeoutMs);
    if (!lost) return;
    if (lost.record) journal.runs.info(lost.record);
    const what = `${lost.ended.length} leftover process${lost.ended.length === 1 ? '' : 'es'} ended`;
    journal.log.warn({ lost_supervisor: lost.supervisorPid, run: lost.record?.run_id, ended: lost.ended }, 'a lost supervisor left a run behind');
    this.opts.notice(`the previous supervisor of this state dir (pid ${lost.supervisorPid ?? '?'}) was lost; its run ${lost.record?.run_id ?? ''} is recorded as supervisor-lost, ${what}`, true);
  }

  /**
   * The last resort: a bug the supervisor did not expect. Logged, the tree ended (the watchdog escalates to
   * SIGKILL from the ledger once we are gone, since we leave without saying bye), exit with a code of its own.
   */
  private fault(err: unknown): void {
    try {
      this.journal?.log.fatal({ err: errorMessage(err), stack: (err as Error)?.stack }, 'supervisor failed; ending the tree');
      this.opts.notice(`internal error, ending the agent's tree: ${errorMessage(err)}`, true);
      if (this.runner?.run) this.tree.signalAll('SIGTERM');
    } finally {
      process.exit(EXIT.internal);
    }
  }

  /** The registry the probes report to, and one session per node process that registers. */
  private async linkProbes(journal: Journal): Promise<void> {
    const { config } = this;
    const { log } = journal;
    // A process that just started is not in the last scan yet: its probe connects at preload.
    const isMember = (pid: number) => this.tree.lastScan.some((p) => p.pid === pid) || this.tree.scan().some((p) => p.pid === pid);
    const registry = await Registry.listen(socketPathFor(this.paths.root, 'registry.sock'), { isMember });
    const sessions = new Inspectors({
      registry,
      samplingInterval: config.samplingIntervalBytes,
      pressure: config.heapWarning,
      callTimeoutMs: CDP_TIMEOUT_MS,
      capturesDir: config.capturesDir,
      log,
      retention: { maxFiles: config.capturesKeep, maxBytes: config.capturesMaxMb * MB },
    });
    registry.on('register', (rec) => {
      log.info({ pid: rec.pid, ppid: rec.ppid, argv: redactArgv(rec.argv) }, 'node process registered');
      sessions.attach(rec).catch((err: Error) => log.warn({ pid: rec.pid, err: err.message }, 'inspector: attach failed'));
    });
    registry.on('reject', (r) =>
      log.warn({ reason: r.reason, peer_pid: r.peerPid, peer_uid: r.peerUid, claimed_pid: r.claimedPid }, 'probe connection rejected'),
    );
    registry.on('error', (err) => log.warn({ err: err.message }, 'registry error'));
    this.registry = registry;
    this.sessions = sessions;
  }

  private nodePids(): number[] {
    return this.registry?.list().map((r) => r.pid).filter((pid) => this.sessions?.has(pid)) ?? [];
  }

  /** The one way configuration changes at run time: validated as a whole, then handed to what depends on it. */
  private update(patch: Record<string, unknown>): Config {
    const next = patchConfig(this.config, patch);
    this.config = next;
    this.watcher?.update(watcherSettings(next));
    this.executor?.update(executorLimits(next));
    this.journal?.log.info({ patch }, 'configuration changed at run time');
    return next;
  }
}
