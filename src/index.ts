// The programmatic API: `import { supervise } from 'cfn-supervise'`, for Node programs that start agents
// themselves. The same supervisor the CLI runs (the CLI is built on this), with options named as the flags are
// and validated the same way; status, capture, gc, restart and stop are the control socket's calls, and alerts
// arrive as events. An embedded supervisor leaves the host's signals, terminal and error handling alone unless
// asked (`ownsProcess`).
import { EventEmitter } from 'node:events';
import { UsageError } from './common/errors.js';
import { LIST_SEPARATOR, optionNamed, resolveConfig, type Config, type ResolvedConfig } from './config/config.js';
import type { Alert } from './supervisor/act/channels.js';
import type { Notice } from './supervisor/act/executor.js';
import type { CaptureProgress, CaptureRequest, CaptureResult, ControlHandlers, GcResult, ProcessView, StatusView } from './supervisor/control/protocol.js';
import type { Outcome } from './supervisor/lifecycle/runner.js';
import { Supervisor } from './supervisor/lifecycle/supervisor.js';

export type { Alert, CaptureResult, GcResult, Outcome, ProcessView, StatusView };

/** Options by their flag names, in kebab or camel case (`heapLimit: 512`, `'kill-timeout': '5s'`). */
export type SuperviseOptions = Record<string, string | number | boolean | readonly string[]>;

export interface SuperviseSettings {
  /** A config file, as --config. */
  configFile?: string;
  /** Resolve relative paths (state dir, config file) from here; default: process.cwd(). */
  cwd?: string;
  /** CFN_SUPERVISE_* and the seeds' variables are read from here; default: none, only `options`. */
  env?: NodeJS.ProcessEnv;
  /** Take the process's signals, hand the terminal to the agent, exit on an uncaught exception (what the CLI does). */
  ownsProcess?: boolean;
  /** The umask the agent gets; default: the process's. The supervisor's own files are always private. */
  userUmask?: number;
}

export interface SupervisionEvents {
  alert: [alert: Alert];
  /** A line meant for a person (restarts, give-up, limits), with whether it must be seen now. */
  notice: [message: string, important: boolean];
  ready: [];
}

/** A running supervision: what the control socket offers, as calls, plus alerts as events. */
export class Supervision extends EventEmitter<SupervisionEvents> {
  /** Settles once the supervisor has stopped for good: how the agent ended. */
  readonly done: Promise<Outcome>;
  readonly config: Config;
  private handlers?: ControlHandlers;
  private signal?: (signal: NodeJS.Signals) => void;
  private readonly ready: Promise<void>;

  constructor(resolved: ResolvedConfig, argv: string[], settings: SuperviseSettings, notice?: Notice) {
    super();
    this.config = resolved.config;
    let markReady!: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    const supervisor = new Supervisor({
      config: resolved.config,
      argv,
      userUmask: settings.userUmask ?? currentUmask(),
      ownsProcess: settings.ownsProcess ?? false,
      startedAt: Date.now(),
      notice: (message, important, detail) => {
        notice?.(message, important, detail);
        this.emit('notice', message, important);
      },
      onAlert: (alert) => this.emit('alert', alert),
      onReady: (handlers, signal) => {
        this.handlers = handlers;
        this.signal = signal;
        markReady();
        this.emit('ready');
      },
    });
    this.done = supervisor.run();
    // A supervisor that fails before it is ready (a busy state dir) must not leave callers waiting.
    this.done.then(markReady, markReady);
  }

  private async call<T>(work: (h: ControlHandlers) => T | Promise<T>): Promise<T> {
    await this.ready;
    if (!this.handlers) throw new UsageError('the supervisor ended before it was ready');
    return work(this.handlers);
  }

  status(): Promise<StatusView> {
    return this.call((h) => h.status());
  }

  processes(): Promise<ProcessView[]> {
    return this.call((h) => h.processes());
  }

  capture(req: Partial<CaptureRequest> = {}, onProgress: (p: CaptureProgress) => void = () => {}): Promise<CaptureResult> {
    return this.call((h) => h.capture({ kind: req.kind ?? 'profile', ...(req.pid ? { pid: req.pid } : {}), ...(req.thread ? { thread: req.thread } : {}), ...(req.seconds ? { seconds: req.seconds } : {}) }, onProgress));
  }

  gc(pid?: number): Promise<GcResult> {
    return this.call((h) => h.gc(pid === undefined ? {} : { pid }));
  }

  restart(): Promise<{ run_id?: string }> {
    return this.call((h) => h.restart());
  }

  /** Stops the agent's tree as a first Ctrl-C would (the signal, the grace, SIGKILL) and resolves when done. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Outcome> {
    await this.ready;
    this.signal?.(signal);
    return this.done;
  }
}

/** Reads the umask without leaving it changed (process.umask() alone is deprecated). */
function currentUmask(): number {
  const mask = process.umask(0o022);
  process.umask(mask);
  return mask;
}

/** Options by name → the raw strings resolveConfig reads as flags: one validation for the CLI and the API. */
function flagsOf(options: SuperviseOptions): Partial<Record<keyof Config, string>> {
  const flags: Partial<Record<keyof Config, string>> = {};
  for (const [name, value] of Object.entries(options)) {
    const opt = optionNamed(name);
    if (!opt) throw new UsageError(`unknown option '${name}'`);
    flags[opt.key] = Array.isArray(value) ? value.join(LIST_SEPARATOR) : String(value);
  }
  return flags;
}

export function resolveOptions(options: SuperviseOptions = {}, settings: SuperviseSettings = {}): ResolvedConfig {
  return resolveConfig({
    flags: flagsOf(options),
    env: settings.env ?? {},
    ...(settings.configFile ? { configFile: settings.configFile } : {}),
    cwd: settings.cwd ?? process.cwd(),
  });
}

/**
 * Starts supervising `argv` (`['npx', 'my-agent']`) and returns at once. Bad options throw a UsageError
 * here; a failure to start (a busy state dir, a missing command) rejects `done`.
 */
export function supervise(argv: string[], options: SuperviseOptions = {}, settings: SuperviseSettings = {}): Supervision {
  if (argv.length === 0 || !argv[0]) throw new UsageError('supervise: the agent command is missing');
  return new Supervision(resolveOptions(options, settings), argv, settings);
}
