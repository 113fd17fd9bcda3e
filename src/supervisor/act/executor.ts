// Runs actions, whoever asked: the policy or a person on the control socket. One path, so cooldowns, caps and
// the journal hold for both; a manual request skips the cooldown but never the per-run caps. The run an action
// belongs to is passed in: its gate, its counts and its way of ending are the run's own.
import { Refused } from '../../common/errors.js';
import { redactArgv } from '../../common/redact.js';
import { wholeMb } from '../../common/units.js';
import type { Capture } from '../journal/captures.js';
import type { Journal } from '../journal/journal.js';
import { systemMemory } from '../../platform/index.js';
import { endGracefully, oneProcess } from '../proc/kill.js';
import { TREND_CAPTURE, rank, type Action, type Level } from '../watch/policy.js';
import type { HeapReader } from '../watch/sampler.js';
import { isolateKey } from '../probe-link/isolate.js';
import type { Gate, GateLimits, Gated, Target } from './gate.js';
import type { TopSite } from '../../analysis/index.js';
import type { Alert } from './channels.js';

/** A fresh sampling window: the profile covers exactly the next `seconds`. */
export interface SamplingWindow {
  seconds: number;
  onSecond?: (done: number) => void;
  /** Aborted when whoever asked is gone: the window ends early and nothing is written. */
  cancelled?: AbortSignal;
}

export interface ProfileOptions {
  window?: SamplingWindow;
  /** Without a window, in a process that was not sampling: how long to sample before the profile is taken. */
  coldSeconds?: number;
  /** The worker thread whose isolate is profiled; 0 or absent: the main thread. */
  thread?: number;
}

export interface CaptureOptions extends ProfileOptions {
  onProgress?: (done: number, total: number) => void;
}

export interface Instrumentation extends HeapReader {
  saveProfile(pid: number, reason: string, opts?: ProfileOptions): Promise<Capture>;
  snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void, thread?: number): Promise<Capture>;
  gc(pid: number, thread?: number): Promise<{ beforeBytes: number; afterBytes: number }>;
}

/** What the executor needs of a run (lifecycle/run.ts provides it). */
export interface RunBook {
  readonly id: string;
  /** The process the supervisor spawned: ending it ends the run. */
  readonly pid: number;
  readonly gate: Gate;
  readonly captures: string[];
  /** A warning or worse was raised, about `pid` or the whole tree. */
  warning(pid: number | undefined): void;
  /** Ends the run: `limit` when a memory rule killed it, `restart` to start a fresh one at once. */
  end(kind: 'limit' | 'restart', why: string): Promise<void>;
  /** A memory rule sent `signal` to a process of the run other than the agent. */
  limitKilled(pid: number, why: string, signal: NodeJS.Signals): void;
  /** Remembers a trend capture of an isolate (isolateKey) and returns the one before it, if any: a second one is diffed. */
  trendCapture(isolate: string, file: string): string | undefined;
}

/**
 * A line for the person at the terminal; `important` ones are shown even over an interactive agent. `detail` (a
 * bug's stack) goes under it, its lines kept.
 */
export type Notice = (message: string, important: boolean, detail?: string) => void;

export interface ExecutorDeps {
  /** Absent with --no-probe. */
  instruments?: Instrumentation;
  /** Sends a message to a process's probe; false when it has none. */
  notify: (pid: number, message: object) => boolean;
  /** Node processes with a live session. */
  nodePids: () => number[];
  journal: Journal;
  notice: Notice;
  /** Reaps what the subreaper adopted (one tree scan). */
  reap: () => void;
  /**
   * Summarises a capture off the main thread; its top sites go into the capture's alert line. With `before` (the
   * same process's previous trend capture), also what grew between the two.
   */
  analyze?: (file: string, before?: string) => Promise<{ top?: TopSite[]; grew?: string[] } | undefined>;
  onAlert?: (level: Level, metric: string) => void;
  /** The alert channels (webhooks, commands): queued, never waited for. */
  deliver?: (alert: Alert) => void;
  onCapture?: (kind: 'profile' | 'snapshot') => void;
}


export interface ExecutorLimits extends GateLimits {
  killTimeoutMs: number;
}

export class Executor {
  private readonly analyses = new Set<Promise<void>>();

  constructor(
    private readonly deps: ExecutorDeps,
    private limits: ExecutorLimits,
  ) {}

  update(limits: ExecutorLimits): void {
    this.limits = limits;
  }

  async execute(run: RunBook, action: Action, manual = false): Promise<unknown> {
    switch (action.kind) {
      case 'alert':
        return this.alert(run, action);
      case 'capture':
        return this.capture(run, action.pid, action.reason, action.snapshot ? 'snapshot' : 'profile', manual || action.urgent === true, {
          ...(action.coldSeconds ? { coldSeconds: action.coldSeconds } : {}),
          ...(action.thread ? { thread: action.thread } : {}),
        });
      case 'gc':
        return this.gc(run, action.pid, action.reason, manual, action.thread);
      case 'cleanup':
        return this.cleanup(run, action.reason, manual);
      case 'terminate':
        return this.terminate(run, action.pid, action.reason);
      case 'restart':
        return this.restart(run, action.reason, manual);
    }
  }

  private alert(run: RunBook, a: Extract<Action, { kind: 'alert' }>): void {
    const serious = rank(a.level) >= rank('warning');
    if (serious) run.warning(a.pid);
    this.deps.onAlert?.(a.level, a.metric);
    const { kind: _kind, argv, details, ...fields } = a;
    this.record({ ...fields, ...details, ...(argv ? { argv: redactArgv(argv) } : {}), run_id: run.id });
    if (serious) this.deps.notice(`[${a.level}] ${a.message}`, true);
  }

  /** One alerts.jsonl line, then the alert channels: the journal first, so a dead webhook never costs a line. */
  private record(line: Alert): void {
    const full = { ...line, system_memory: systemMemory() };
    this.deps.journal.alerts.info(full);
    this.deps.deliver?.(full);
  }

  private admit(run: RunBook, kind: Gated, target: Target, manual: boolean): void {
    const now = Date.now();
    const why = run.gate.check(kind, target, now, manual, this.limits);
    if (why) {
      this.deps.journal.log.info({ kind, target, manual }, `not now: ${why}`);
      throw new Refused(why, 409);
    }
    run.gate.started(kind, target, now);
  }

  private instrumented(pid: number, thread = 0): Instrumentation {
    const ins = this.deps.instruments;
    if (thread && !ins?.has(pid, thread)) throw new Refused(`pid ${pid} has no worker thread ${thread} with a probe`, 404);
    if (!ins?.has(pid)) throw new Refused(`pid ${pid} has no inspector session (not a node process of the tree, under node's permission model, or --no-probe)`, 404);
    return ins;
  }

  async capture(
    run: RunBook,
    pid: number,
    reason: string,
    kind: 'profile' | 'snapshot',
    manual: boolean,
    opts: CaptureOptions = {},
  ): Promise<Capture & { pid: number; thread?: number; kind: string }> {
    const { thread = 0 } = opts;
    const ins = this.instrumented(pid, thread);
    const isolate = isolateKey(pid, thread);
    this.admit(run, 'capture', isolate, manual);
    let capture: Capture;
    try {
      capture = kind === 'snapshot' ? await ins.snapshot(pid, reason, opts.onProgress, thread) : await ins.saveProfile(pid, reason, opts);
    } catch (err) {
      run.gate.settled(false);
      this.deps.journal.log.info({ pid, thread, reason, kind, manual, err: (err as Error).message }, 'capture not written');
      throw err;
    }
    run.gate.settled(true);
    const { file } = capture;
    // A Bun process has no sampling profiler: the policy's profile of one is a snapshot.
    const written = file.endsWith('.heapsnapshot') ? 'snapshot' : kind;
    run.captures.push(file);
    this.deps.onCapture?.(written);
    // A person who asked from another terminal gets the path there; the agent's terminal stays untouched.
    if (!manual) this.deps.notice(`capture written: ${file}`, false);
    this.deps.journal.log.info({ pid, thread, reason, kind: written, file, manual }, 'capture written');
    const analysis = this.summarise(run, file, pid, thread, reason, manual);
    this.analyses.add(analysis);
    const forget = () => this.analyses.delete(analysis);
    analysis.then(forget, forget);
    return { ...capture, pid, ...(thread ? { thread } : {}), kind: written };
  }

  /** Waits for the analyses still running, so their lines reach the journal before the supervisor exits. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.analyses]);
  }

  private async summarise(run: RunBook, file: string, pid: number, thread: number, reason: string, manual: boolean): Promise<void> {
    if (!this.deps.analyze) return;
    try {
      const before = reason === TREND_CAPTURE ? run.trendCapture(isolateKey(pid, thread), file) : undefined;
      const summary = await this.deps.analyze(file, before);
      if (!summary) return;
      const top = summary.top?.slice(0, 5) ?? [];
      this.record({
        level: 'info',
        metric: 'capture',
        pid,
        ...(thread ? { thread } : {}),
        message: `capture analysed: ${file}`,
        reason,
        file,
        summary: `${file}.summary.json`,
        top_sites: top,
        ...(summary.grew ? { grew_since: before, grew: summary.grew.slice(0, 5) } : {}),
        run_id: run.id,
      });
      const first = top[0];
      if (first && !manual) this.deps.notice(`pid ${pid}${thread ? ` thread ${thread}` : ''} (${reason}): ${describeSite(first, file)}`, true);
    } catch (err) {
      this.deps.journal.log.warn({ file, err: (err as Error).message }, 'capture analysis failed');
    }
  }

  async gc(run: RunBook, pid: number, reason: string, manual: boolean, thread = 0): Promise<{ pid: number; beforeBytes: number; afterBytes: number }> {
    const ins = this.instrumented(pid, thread);
    this.admit(run, 'gc', isolateKey(pid, thread), manual);
    const r = await ins.gc(pid, thread);
    this.deps.journal.log.info({ pid, thread, reason, ...r, freed_mb: wholeMb(r.beforeBytes - r.afterBytes) }, 'forced GC');
    return { pid, ...r };
  }

  /** GC every node process, reap adopted orphans, and tell each app through its probe to drop caches. */
  async cleanup(run: RunBook, reason: string, manual: boolean): Promise<{ gc: unknown[]; notified: number }> {
    this.admit(run, 'cleanup', 'tree', manual);
    this.deps.reap();
    const pids = this.deps.nodePids();
    let notified = 0;
    for (const pid of pids) if (this.deps.notify(pid, { type: 'memory-pressure', level: 'critical' })) notified++;
    const gc = await Promise.all(
      // A process can go between listing and collecting: its failure is reported, the others still run.
      pids.map((pid) =>
        Promise.resolve()
          .then(() => this.instrumented(pid).gc(pid))
          .then(
            (r) => ({ pid, ...r }),
            (err: Error) => ({ pid, error: err.message }),
          ),
      ),
    );
    this.deps.journal.log.info({ reason, gc, notified }, 'cleanup');
    return { gc, notified };
  }

  /** The evidence first: every capture that the gate allows, before anything is killed. */
  private async captureBefore(run: RunBook, pids: number[], reason: string, manual: boolean): Promise<void> {
    await Promise.all(
      pids
        .filter((pid) => this.deps.instruments?.has(pid))
        .map((pid) => this.capture(run, pid, reason, 'profile', manual).catch(() => undefined)),
    );
  }

  private async terminate(run: RunBook, pid: number, reason: string): Promise<void> {
    await this.captureBefore(run, [pid], 'before-terminate', false);
    if (pid === run.pid) {
      await run.end('limit', reason);
      return;
    }
    const target = oneProcess(pid);
    if (!target.alive()) return;
    this.deps.journal.log.warn({ pid, reason }, 'terminating a process over its limit');
    const message = `terminated pid ${pid}: ${reason}`;
    this.record({ level: 'hard', metric: 'limit', pid, message, exit: { reason: 'limit' }, run_id: run.id });
    this.deps.notice(`[hard] ${message}`, true);
    // Each signal is noted as sent: the process's line in processes.jsonl names the one it died of.
    const noted = { alive: () => target.alive(), signal: (sig: NodeJS.Signals) => (run.limitKilled(pid, reason, sig), target.signal(sig)) };
    await endGracefully(noted, 'SIGTERM', this.limits.killTimeoutMs);
  }

  /** A process of the run died of memory without a rule of ours ending it: its heap, or the kernel's OOM killer. */
  memberDied(run: RunBook, line: { pid: number; role: string; cause: string; message: string; [field: string]: unknown }): void {
    this.deps.onAlert?.('critical', line.cause);
    const { cause, ...rest } = line;
    this.record({ level: 'critical', metric: cause, ...rest, run_id: run.id });
    this.deps.notice(`[${cause}] ${line.message}`, true);
  }

  private async restart(run: RunBook, reason: string, manual: boolean): Promise<void> {
    await this.captureBefore(run, this.deps.nodePids(), 'before-restart', manual);
    await run.end('restart', reason);
  }
}

/** A profile names where live memory was allocated; a snapshot what holds it (Buffers' bytes included, through their holder). */
function describeSite(s: TopSite, file: string): string {
  const share = Math.round(s.share * 100);
  if (file.endsWith('.heapsnapshot')) return `largest retainer ${s.site}, ${share}% of the snapshot`;
  return `top allocation site ${s.site}, ${share}% of live sampled bytes`;
}
