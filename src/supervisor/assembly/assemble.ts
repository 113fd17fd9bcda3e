// What the supervisor loads once its agent runs: the journal, metrics, probe sessions, executor, watch loop,
// run state machine, alert channels, control socket and watchdog, built in dependency order. Kept apart from
// supervisor.ts so that the first run starts before pino and the rest are even loaded.
import type { Logger } from 'pino';
import type { Libc } from '../../platform/libc.js';
import { redactArgv } from '../../common/redact.js';
import type { StatePaths } from '../../common/statedir.js';
import { oomKills } from '../../platform/cgroup.js';
import { memoryBound, ownCgroup } from '../../platform/sysmem.js';
import { MB } from '../../common/units.js';
import { VERSION } from '../../common/version.js';
import { patchConfig, shareable, type Config } from '../../config/config.js';
import { AlertChannels } from '../act/channels.js';
import { Executor, type ExecutorLimits } from '../act/executor.js';
import { Metrics } from '../control/metrics.js';
import { startControl, type ControlServer } from '../control/server.js';
import { emptyLevelCounts } from '../control/views.js';
import { openJournal, type Journal } from '../journal/journal.js';
import { CapturesFolder, removeLeftTemps, retentionOf } from '../journal/captures.js';
import { errorMessage } from '../../common/errors.js';
import type { BunLinks } from '../bun-link/bun-link.js';
import { BunSessions } from '../bun-link/bun-sessions.js';
import { PortCaptures, firstWayIn } from '../inspector-port/port-captures.js';
import type { Registry } from '../probe-link/registry.js';
import { DEFAULT_SAMPLING_INTERVAL, ProbeSessions } from '../probe-link/probe-sessions.js';
import type { Children } from '../proc/children.js';
import { executableOf, readArgv, readEnvVar } from '../../platform/index.js';
import { isNodeExecutable, underPermissionModel } from '../../common/node-argv.js';
import type { Instrumented } from '../control/protocol.js';
import type { ProcessTree } from '../proc/tree.js';
import { thresholdsFor } from '../watch/roles.js';
import { Sampler } from '../watch/sampler.js';
import { analyzeSaved, closeAnalysis } from './analyze-captures.js';
import { controlHandlers } from './control-adapter.js';
import type { Launcher } from '../lifecycle/launch.js';
import { endLostRun, type Ledger, type LostLedger } from '../orphans/ledger.js';
import { Runner } from '../lifecycle/runner.js';
import type { SupervisorOptions } from './supervisor.js';
import { Watchdog } from '../orphans/watchdog.js';
import { Watcher, historySize, type WatcherSettings } from '../lifecycle/watcher.js';
import type { Terminal } from '../terminal/terminal.js';

/** A call to a process (its probe, Bun link or inspector) that takes longer has an agent blocked in synchronous code; RSS from /proc stands in. */
const CALL_TIMEOUT_MS = 2000;
/** What a leaving supervisor gives its alert channels to send what they still hold. */
const CHANNELS_GRACE_MS = 5000;

const watcherSettings = (c: Config): WatcherSettings => ({ thresholds: c, intervalMs: c.intervalMs });
const executorLimits = (c: Config): ExecutorLimits => ({ cooldownMs: c.cooldownS * 1000, maxCapturesPerRun: c.maxCaptures, killTimeoutMs: c.killTimeoutMs });

/** What supervisor.ts built before the agent started. */
export interface Early {
  opts: SupervisorOptions;
  config: Config;
  paths: StatePaths;
  libc: Libc;
  children: Children;
  tree: ProcessTree;
  ledger: Ledger;
  launcher: Launcher;
  supervisorId: string;
  terminal?: Terminal;
  registry?: Registry;
  bunLinks?: BunLinks;
  lost?: LostLedger;
}

export class Assembly {
  readonly journal: Journal;
  readonly metrics = new Metrics();
  readonly runner: Runner;
  private config: Config;
  private readonly alertCounts = emptyLevelCounts();
  private readonly captures: CapturesFolder;
  private readonly sessions?: ProbeSessions;
  private readonly bun?: BunSessions;
  private readonly channels?: AlertChannels;
  private readonly executor: Executor;
  private readonly sampler?: Sampler;
  private readonly watcher?: Watcher;
  private readonly watchdog: Watchdog;
  private control?: ControlServer;

  constructor(private readonly early: Early) {
    const { opts, paths, registry } = early;
    const config = (this.config = early.config);
    const journal = (this.journal = openJournal({
      logFile: paths.log,
      runsFile: paths.runs,
      alertsFile: paths.alerts,
      processesFile: paths.processes,
      level: config.logLevel,
      // A full disk: said once, counted in /metrics, and writing resumes by itself when space returns.
      onDrop: (name, dropped) => {
        this.metrics.countDroppedLine(name);
        if (dropped === 1) opts.notice(`cannot write ${name} (disk full?); lines are being dropped and counted until it can`, true);
      },
    }));
    const { log } = journal;
    log.info({ argv: redactArgv(opts.argv), config: shareable(config) }, 'supervisor started');
    this.watchdog = new Watchdog(Math.min(config.killTimeoutMs, 1000), early.children, log);
    this.watchdog.start();
    early.ledger.tell(this.watchdog);
    this.captures = new CapturesFolder(config.capturesDir, retentionOf(config), log);
    if (registry) this.sessions = this.linkProbes(registry, log);
    if (early.bunLinks) this.bun = this.linkBun(early.bunLinks, log);
    if (config.alertWebhook.length > 0 || config.alertExec.length > 0) this.channels = this.openChannels(log);
    this.executor = this.newExecutor(journal);
    if (config.watch) {
      this.sampler = new Sampler(early.tree, this.sessions || this.bun ? firstWayIn([this.sessions, this.bun]) : undefined, {
        historySize: historySize(watcherSettings(config)),
        registeredArgv: (pid) => registry?.get(pid)?.argv,
        pressure: () => this.config.heapWarning,
        intervalMs: () => this.config.intervalMs,
        trendWindowMs: (role) => thresholdsFor(role, this.config).trendWindowMs,
        onHeap: (_pid, fraction) => this.watcher?.heapArrived(fraction),
        onEnded: (life, withRun, node) => this.watcher?.processEnded(life, withRun, node),
      });
      const cgroup = ownCgroup();
      const bound = memoryBound();
      this.watcher = new Watcher(
        {
          sampler: this.sampler,
          executor: this.executor,
          metrics: this.metrics,
          log,
          journal,
          reportDir: paths.reports,
          ...(cgroup ? { oomKills: () => oomKills(cgroup) } : {}),
          ...(bound ? { memoryLimit: bound.source } : {}),
        },
        watcherSettings(config),
      );
    }
    this.runner = new Runner({
      config,
      argv: opts.argv,
      launcher: early.launcher,
      tree: early.tree,
      ...(early.terminal ? { terminal: early.terminal } : {}),
      ...(this.watcher ? { watcher: this.watcher } : {}),
      journal,
      metrics: this.metrics,
      notice: opts.notice,
      reportDir: paths.reports,
      ...(ownCgroup() ? { oomKills: () => oomKills(ownCgroup()!) } : {}),
      supervisorId: early.supervisorId,
      ledger: early.ledger,
      onStop: () => {
        this.sessions?.closeAll();
        this.early.bunLinks?.abortPending('the supervisor is stopping');
      },
    });
  }

  /** Listens on the control socket, and ends and records what a lost supervisor left. */
  async start(): Promise<ReturnType<typeof controlHandlers>> {
    const { opts, paths, registry } = this.early;
    const { config } = this;
    const handlers = controlHandlers({
      runner: this.runner,
      ...(this.watcher ? { watcher: this.watcher } : {}),
      ...(this.sampler ? { sampler: this.sampler } : {}),
      executor: this.executor,
      nodePids: () => this.nodePids(),
      instrumentation: (pid) => this.instrumentation(pid),
      inspectorUrl: (pid) => registry?.get(pid)?.url,
      stateDir: paths.root,
      version: VERSION,
      startedAt: opts.startedAt,
      alertCounts: this.alertCounts,
      config: () => this.config,
      update: (patch) => this.update(patch),
    });
    this.control = await startControl(handlers, {
      stateDir: paths.root,
      metrics: this.metrics,
      log: this.journal.log,
      ...(config.controlPort ? { controlPort: config.controlPort } : {}),
      ...(config.metricsPort ? { metricsPort: config.metricsPort, metricsHost: config.metricsHost } : {}),
    });
    if (this.early.lost) this.recordLostRun(this.early.lost).catch((err: Error) => this.journal.log.error({ err: err.message }, 'the lost run could not be recorded'));
    this.removeLeftTemps();
    return handlers;
  }

  /** The control socket again if it was removed (see ControlServer.keep). */
  keepControl(): Promise<boolean> {
    return this.control?.keep() ?? Promise.resolve(false);
  }

  async close(): Promise<void> {
    await this.control?.close();
    await this.executor.drain();
    await this.channels?.close(CHANNELS_GRACE_MS);
    await closeAnalysis();
    this.sessions?.closeAll();
    this.early.bunLinks?.abortPending('the supervisor is stopping');
    this.watchdog.bye();
  }

  private newExecutor(journal: Journal): Executor {
    const { opts, children } = this.early;
    return new Executor(
      {
        instruments: firstWayIn([this.sessions, this.bun, this.portCaptures(journal.log)]),
        notify: (pid, message) => this.early.registry?.send(pid, { ...message }) ?? false,
        nodePids: () => this.nodePids(),
        journal,
        notice: opts.notice,
        reap: () => children.collect(),
        onAlert: (level, metric) => {
          this.alertCounts[level]++;
          this.metrics.countAlert(level, metric);
        },
        onCapture: (kind) => this.metrics.countCapture(kind),
        deliver: (alert) => {
          this.channels?.deliver(alert);
          opts.onAlert?.(alert);
        },
        analyze: (file, before) => analyzeSaved(file, before),
      },
      executorLimits(this.config),
    );
  }

  /** One session per node process that registers, those that registered while we were loading included. */
  private linkProbes(registry: Registry, log: Logger): ProbeSessions {
    const { config } = this;
    const sessions = new ProbeSessions({
      registry,
      samplingInterval: config.samplingIntervalBytes,
      pressure: config.heapWarning,
      callTimeoutMs: CALL_TIMEOUT_MS,
      captures: this.captures,
      log,
      onGc: (pid, gc, thread) => this.sampler?.postGc(pid, gc.used, gc.at, thread),
      onWorkerOom: (pid, thread, fatal) => this.watcher?.workerOom(pid, thread, fatal),
    });
    const attach = (rec: Parameters<ProbeSessions['attach']>[0]) => {
      log.info({ pid: rec.pid, ppid: rec.ppid, ...(rec.thread ? { thread: rec.thread } : {}), argv: redactArgv(rec.argv) }, rec.thread ? 'worker thread registered' : 'node process registered');
      sessions.attach(rec).catch((err: Error) => log.warn({ pid: rec.pid, err: err.message }, 'probe: attach failed'));
      if (!rec.thread) this.watcher?.registered(rec.pid, rec.argv);
    };
    for (const rec of registry.list()) attach(rec);
    registry.on('register', attach);
    registry.on('reject', (r) => log.warn({ reason: r.reason, peer_pid: r.peerPid, peer_uid: r.peerUid, claimed_pid: r.claimedPid }, 'probe connection rejected'));
    registry.on('error', (err) => log.warn({ err: err.message }, 'registry error'));
    return sessions;
  }

  /** One session per Bun process that links its inspector; its heap is measured against the RSS hard limit. */
  private linkBun(links: BunLinks, log: Logger): BunSessions {
    const bun = new BunSessions({
      links,
      callTimeoutMs: CALL_TIMEOUT_MS,
      captures: this.captures,
      log,
      heapLimit: () => this.config.hardMb * MB,
      onGc: (pid, gc) => this.sampler?.postGc(pid, gc.used, gc.at),
    });
    links.on('link', (rec) => log.info({ pid: rec.pid, ppid: rec.ppid, argv: redactArgv(rec.argv) }, 'bun process linked'));
    links.on('broken', (pid, why) => log.warn({ pid, why }, 'bun: inspector link broken; the process is watched through /proc alone'));
    links.on('reject', (r) => log.warn({ reason: r.reason, peer_pid: r.peerPid, peer_uid: r.peerUid }, 'bun link rejected'));
    links.on('error', (err) => log.warn({ err: err.message }, 'bun link error'));
    return bun;
  }

  /** Node processes of the tree without a probe (their NODE_OPTIONS was stripped): reached through their inspector port. */
  private portCaptures(log: Logger): PortCaptures {
    const { config } = this;
    return new PortCaptures({
      attachable: (pid) => this.attachable(pid),
      captures: this.captures,
      samplingIntervalBytes: config.samplingIntervalBytes || DEFAULT_SAMPLING_INTERVAL,
      callTimeoutMs: CALL_TIMEOUT_MS,
      log,
    });
  }

  private instrumentation(pid: number): Instrumented {
    if (this.sessions?.has(pid)) return { instrumented: 'probe' };
    if (this.bun?.has(pid)) return { instrumented: 'bun' };
    if (!this.unprobed(pid)) return { instrumented: 'rss-only' };
    return permissionModelOf(pid) ? { instrumented: 'rss-only', instrumented_why: 'permission model' } : { instrumented: 'inspector' };
  }

  /** A node process of the tree that should have a probe and has none; with --no-probe nothing is attached to. */
  private unprobed(pid: number): boolean {
    return this.sessions !== undefined && !this.sessions.has(pid) && this.early.tree.lastScan.some((p) => p.pid === pid) && isNodeExecutable(executableOf(pid));
  }

  /** Reached through its inspector port: node's permission model opens none. */
  private attachable(pid: number): boolean {
    return this.unprobed(pid) && !permissionModelOf(pid);
  }

  private openChannels(log: Logger): AlertChannels {
    const { children } = this.early;
    const channels = new AlertChannels({
      webhooks: this.config.alertWebhook,
      exec: this.config.alertExec,
      minLevel: this.config.alertMinLevel,
      log,
      onDelivery: (channel, ok) => this.metrics.countDelivery(channel, ok),
      onDrop: (channel) => this.metrics.countDeliveryDrop(channel),
      // An alert command is our helper, never part of the agent's tree, and libuv waits for it.
      onSpawn: (pid) => children.ownedByLibuv(pid),
      onExit: (pid) => children.releasedByLibuv(pid),
    });
    this.metrics.alertChannels(channels.names);
    log.info({ channels: channels.targets }, 'alert channels');
    return channels;
  }

  /** A supervisor of this state dir that was killed left a ledger: end what is left of its run and record it. */
  private async recordLostRun(ledger: LostLedger): Promise<void> {
    const lost = await endLostRun(ledger, this.config.killTimeoutMs);
    if (lost.record) this.journal.runs.info(lost.record);
    const what = `${lost.ended.length} leftover process${lost.ended.length === 1 ? '' : 'es'} ended`;
    this.journal.log.warn({ lost_supervisor: lost.supervisorPid, run: lost.record?.run_id, ended: lost.ended }, 'a lost supervisor left a run behind');
    this.early.opts.notice(`the previous supervisor of this state dir (pid ${lost.supervisorPid ?? '?'}) was lost; its run ${lost.record?.run_id ?? ''} is recorded as supervisor-lost, ${what}`, true);
  }

  /** A supervisor killed mid-snapshot left its partial file: nothing of ours can be writing into the folder yet. */
  private removeLeftTemps(): void {
    removeLeftTemps(this.config.capturesDir).then(
      (removed) => {
        if (removed.length > 0) this.journal.log.info({ removed }, 'partial captures left by a lost supervisor removed');
      },
      (err) => this.journal.log.warn({ err: errorMessage(err) }, 'partial captures left by a lost supervisor not removed'),
    );
  }

  /** The JavaScript processes with a live session: probed node ones and linked Bun ones. */
  private nodePids(): number[] {
    const probed = this.early.registry?.list().map((r) => r.pid).filter((pid) => this.sessions?.has(pid)) ?? [];
    return [...probed, ...(this.bun?.pids() ?? [])];
  }

  /** The one way configuration changes at run time: validated as a whole, then handed to what depends on it. */
  private update(patch: Record<string, unknown>): Config {
    const next = patchConfig(this.config, patch);
    this.config = next;
    this.watcher?.update(watcherSettings(next));
    this.executor.update(executorLimits(next));
    this.sessions?.setPressure(next.heapWarning);
    this.journal.log.info({ patch }, 'configuration changed at run time');
    return next;
  }
}

/** As node read its command line and the NODE_OPTIONS it was started with. */
function permissionModelOf(pid: number): boolean {
  return underPermissionModel(readArgv(pid)?.slice(1) ?? [], readEnvVar(pid, 'NODE_OPTIONS'));
}
