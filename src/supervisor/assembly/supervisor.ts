// The composition root. The agent is started first, with only what a start needs (the state dir's lock, the
// registry its probes connect to, the launcher): the rest of the supervisor (journal, metrics, sessions, the
// watch and act chain, the control socket, the watchdog) loads while the agent does (assemble.ts). Signals go to
// the run state machine; everything is taken down again in reverse order.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT, errorMessage } from '../../common/errors.js';
import { libc, type Libc } from '../../platform/libc.js';
import { readableStack } from '../../common/stack.js';
import { ensurePrivateDir, lockStateDir, socketPathFor, statePaths, type StateDirLock, type StatePaths } from '../../common/statedir.js';
import { boundedMemory, memoryBound } from '../../platform/sysmem.js';
import type { Config } from '../../config/config.js';
import type { Alert } from '../act/channels.js';
import type { Notice } from '../act/executor.js';
import type { ControlHandlers } from '../control/protocol.js';
import { Registry } from '../probe-link/registry.js';
import { BunLinks } from '../bun-link/bun-link.js';
import { platform } from '../../platform/index.js';
import { Children } from '../proc/children.js';
import { ProcessTree } from '../proc/tree.js';
import type { Assembly } from './assemble.js';
import { AgentLog } from '../output/agent-log.js';
import { stdioFacts } from '../output/agent-output.js';
import { planOutput } from '../output/plan.js';
import { Launcher, runIdOf, type Agent } from '../lifecycle/launch.js';
import { Ledger, takeLostLedger } from '../orphans/ledger.js';
import type { Outcome } from '../lifecycle/runner.js';
import { Terminal } from '../terminal/terminal.js';

/**
 * Signals passed on to the agent (USR2 is a capture instead with --capture-signal USR2); INT and TERM also start
 * the stop sequence, TSTP and CONT are job control.
 */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGTSTP', 'SIGCONT'] as const;

export const PROBE_PATH = fileURLToPath(new URL('../../probe/probe.cjs', import.meta.url));

/** How often the supervisor checks that the state dir's lock file is still the one it holds. */
const LOCK_CHECK_MS = 1000;

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
  startedAt: number;
  /** Every alert line as it is written to alerts.jsonl. */
  onAlert?: (alert: Alert) => void;
  /** Once the control handlers exist: the same calls the control socket serves, for a program that embeds us. */
  onReady?: (handlers: ControlHandlers, signal: (signal: NodeJS.Signals) => void) => void;
}

export class Supervisor {
  private readonly config: Config;
  private readonly paths: StatePaths;
  private readonly libc: Libc;
  private readonly children: Children;
  private readonly tree: ProcessTree;
  private readonly ledger: Ledger;
  /** Names the supervisor's runs (`<id>-<n>`) in its journals and the agent log. */
  private readonly id = randomUUID().slice(0, 8);
  private assembly?: Assembly;
  /** Signals that arrived while the supervisor was still loading: the run state machine hears them once it exists. */
  private readonly early: NodeJS.Signals[] = [];
  /** The calls the control socket serves, once they exist. */
  private handlers?: ControlHandlers;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGUSR2' && this.config.captureSignal === 'USR2') this.captureOnSignal(signal).catch(this.onFault);
    else if (this.assembly) this.assembly.runner.signal(signal);
    else this.early.push(signal);
  };
  private readonly onFault = (err: unknown) => this.fault(err);
  /** The state dir stopped being ours alone, and the user was told. */
  private lockLostSaid = false;

  constructor(private readonly opts: SupervisorOptions) {
    this.config = { ...opts.config };
    this.paths = statePaths(this.config.stateDir);
    this.libc = libc();
    this.children = new Children(this.libc);
    this.tree = new ProcessTree(this.children.libuvOwned);
    this.ledger = new Ledger(this.paths.ledger);
  }

  /**
   * --capture-signal: the seeds' "dump a profile" signal does what `capture` does, and never reaches the agent
   * (node with no handler for it dies of it). The path goes where capture bookkeeping goes (notice, log).
   */
  private async captureOnSignal(signal: NodeJS.Signals): Promise<void> {
    if (!this.handlers) {
      this.opts.notice(`${signal}: no capture, the supervisor is still starting`, true);
      return;
    }
    try {
      const r = await this.handlers.capture({ kind: 'profile' }, () => {});
      this.opts.notice(`${signal}: captured pid ${r.pid}${r.role ? ` (${r.role})` : ''}: ${r.file}`, false);
    } catch (err) {
      this.opts.notice(`${signal}: no capture: ${errorMessage(err)}`, true);
    }
  }

  /** Runs the agent until it ends for good; resolves with how the supervisor should end. */
  async run(): Promise<Outcome> {
    const { config, opts } = this;
    // Before anything else touches the state dir: one supervisor per state dir, even when two start at once.
    const lock = lockStateDir(this.paths.root);
    let registry: Registry | undefined;
    let bunLinks: BunLinks | undefined;
    const lockGuard = setInterval(() => {
      this.keepLock(lock);
      this.keepSockets(registry, bunLinks);
    }, LOCK_CHECK_MS).unref();
    let terminal: Terminal | undefined;
    let agentLog: AgentLog | undefined;
    try {
      ensurePrivateDir(this.paths.reports);
      ensurePrivateDir(config.capturesDir);
      const instrumented = config.probe && config.watch;
      if (instrumented && !existsSync(PROBE_PATH)) throw new Error(`the probe is missing at ${PROBE_PATH}: run npm run build`);
      if (opts.ownsProcess) {
        process.on('uncaughtException', this.onFault);
        process.on('unhandledRejection', this.onFault);
      }
      const subreaper = platform().becomeSubreaper(this.libc);
      this.children.start();
      // Read before the new run's ledger replaces it; ended and recorded once the journal is open.
      const lost = takeLostLedger(this.ledger.file);
      terminal = process.pid === 1 || !opts.ownsProcess ? undefined : Terminal.open(this.libc);
      if (instrumented) {
        registry = await this.listenForProbes();
        bunLinks = await this.listenForBun();
      }
      // Before the agent starts: a signal meant for it must never find the supervisor without a handler (the
      // default action of most signals would end the supervisor and leave the agent alone).
      if (opts.ownsProcess) for (const s of FORWARDED_SIGNALS) process.on(s, this.onSignal);
      const plan = planOutput(stdioFacts(config.agentLog));
      if (plan.length > 0) agentLog = this.openAgentLog();
      const launcher = new Launcher({
        libc: this.libc,
        children: this.children,
        tree: this.tree,
        ...(terminal ? { terminal } : {}),
        argv: opts.argv,
        options: {
          reportDir: this.paths.reports,
          ...(registry ? { probePath: PROBE_PATH, registrySocket: registry.socketPath } : {}),
          ...(bunLinks ? { bunLink: bunLinks.address } : {}),
          stateDir: this.paths.root,
          supervisorPid: process.pid,
        },
        heapLimitMb: config.heapLimitMb,
        inspect: config.inspect,
        userUmask: opts.userUmask,
        ...(agentLog ? { agentLog: { log: agentLog, plan, onFailure: (why: string) => this.outputFailed(why) } } : {}),
      });
      const first = this.startFirst(launcher);
      let assembly: Assembly;
      try {
        const { Assembly } = await import('./assemble.js');
        assembly = this.assembly = new Assembly({
          opts,
          config,
          paths: this.paths,
          libc: this.libc,
          children: this.children,
          tree: this.tree,
          ledger: this.ledger,
          launcher,
          supervisorId: this.id,
          ...(terminal ? { terminal } : {}),
          ...(registry ? { registry } : {}),
          ...(bunLinks ? { bunLinks } : {}),
          ...(lost ? { lost } : {}),
        });
      } catch (err) {
        // An agent already started must not outlive a supervisor that could not finish starting.
        if (first) await this.tree.killAll();
        throw err;
      }
      // Where runs are marked, no subreaper is the design (macOS has none), not a fault to warn of at every start.
      if (!subreaper && !platform().marksRuns) assembly.journal.log.warn('cannot become child subreaper; orphans are found by whole passes over the process table only');
      try {
        const handlers = await assembly.start().catch(async (err: unknown) => {
          await this.tree.killAll();
          throw err;
        });
        this.handlers = handlers;
        opts.onReady?.(handlers, this.onSignal);
        return await assembly.runner.runAll(first, this.early.splice(0));
      } finally {
        await assembly.close();
        assembly.journal.log.info('supervisor exiting');
        await assembly.journal.close();
      }
    } finally {
      for (const s of FORWARDED_SIGNALS) process.off(s, this.onSignal);
      terminal?.close();
      agentLog?.close();
      await registry?.close();
      await bunLinks?.close();
      this.children.stop();
      this.tree.close();
      this.ledger.clear();
      process.off('uncaughtException', this.onFault);
      process.off('unhandledRejection', this.onFault);
      clearInterval(lockGuard);
      lock.release();
    }
  }

  /**
   * Whoever emptied the state dir under us (`rm -rf <state-dir>/*`) took the sockets' names with it: without
   * them `status` finds no supervisor and node processes started later no registry. Each is listened on again.
   */
  private keepSockets(registry: Registry | undefined, bunLinks: BunLinks | undefined): void {
    const log = this.assembly?.journal.log;
    const keep = (what: string, kept: Promise<boolean>): void => {
      kept.then(
        (again) => {
          if (again) log?.warn(`the ${what} socket was removed; listening on it again`);
        },
        (err: unknown) => log?.error({ err: errorMessage(err) }, `cannot listen on the ${what} socket again`),
      );
    };
    if (registry) keep('registry', registry.keep());
    if (bunLinks) keep('Bun link', bunLinks.keep());
    if (this.assembly) keep('control', this.assembly.keepControl());
  }

  /** Whoever emptied the state dir under us must not make room for a second supervisor on it. */
  private keepLock(lock: StateDirLock): void {
    const log = this.assembly?.journal.log;
    let problem: string | undefined;
    try {
      const kept = lock.keep();
      if (kept.retaken) log?.warn({ state_dir: this.paths.root }, "the state dir's lock file was removed; took the lock again");
      if (kept.holder) problem = `another supervisor (pid ${kept.holder}) took over ${this.paths.root} after its lock file was removed`;
    } catch (err) {
      problem = `cannot take the lock of ${this.paths.root} again after its lock file was removed: ${errorMessage(err)}`;
    }
    // Said once: it is tried again every second, and stays true until this supervisor ends.
    if (!problem || this.lockLostSaid) return;
    this.lockLostSaid = true;
    log?.error({ state_dir: this.paths.root }, problem);
    this.opts.notice(problem, true);
  }

  /**
   * The first run starts now, before the rest of the supervisor loads, unless memory is short (then the run
   * state machine waits for it, with backoff) or the command cannot start (then it reports that as usual).
   */
  private startFirst(launcher: Launcher): Agent | undefined {
    if (boundedMemory(memoryBound()).available_mb < this.config.minFreeMb) return undefined;
    try {
      return launcher.start(runIdOf(this.id, 1));
    } catch {
      return undefined;
    }
  }

  /** The agent log; a disk too full for it is said once, and the agent's output still reaches its destination. */
  private openAgentLog(): AgentLog {
    return new AgentLog(this.paths.logs, (dropped) => {
      if (dropped === 1) this.opts.notice("cannot write the agent log (disk full?); the agent's output still goes where it went", true);
    });
  }

  private outputFailed(why: string): void {
    this.assembly?.journal.log.warn(why);
    this.opts.notice(why, true);
  }

  /** The registry the probes report to: listening before the first agent starts, so none of them misses it. */
  private listenForProbes(): Promise<Registry> {
    return Registry.listen(socketPathFor(this.paths.root, 'registry.sock'), { isMember: this.isMember });
  }

  /** The socket Bun processes link their inspectors to: they connect as they start, like the probes. */
  private listenForBun(): Promise<BunLinks> {
    return BunLinks.listen(socketPathFor(this.paths.root, 'bun.sock'), { isMember: this.isMember });
  }

  // A process that just started is not in the last scan yet: its probe (or Bun link) connects as it starts.
  private readonly isMember = (pid: number) => this.tree.lastScan.some((p) => p.pid === pid) || this.tree.scan().some((p) => p.pid === pid);

  /**
   * The last resort: a bug the supervisor did not expect. Logged, the tree ended (the watchdog escalates to
   * SIGKILL from the ledger once we are gone, since we leave without saying bye), exit with a code of its own.
   */
  private fault(err: unknown): void {
    try {
      const stack = readableStack(err);
      this.assembly?.journal.log.fatal({ err: errorMessage(err), stack }, 'supervisor failed; ending the tree');
      this.opts.notice(`internal error, ending the agent's tree: ${errorMessage(err)}`, true, stack);
      if (this.assembly?.runner.run) this.tree.signalAll('SIGTERM');
    } finally {
      process.exit(EXIT.internal);
    }
  }
}
