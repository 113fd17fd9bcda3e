// Runs actions, whoever asked: the policy or a person on the control socket. One path, so cooldowns, caps and
// the journal hold for both; a manual request skips the cooldown but never the per-run caps.
import { setTimeout as sleep } from 'node:timers/promises';
import { Refused } from '../../common/errors.js';
import type { Journal } from '../journal/journal.js';
import { rank, type Action, type Level } from '../watch/policy.js';
import type { HeapReader } from '../watch/sampler.js';
import { systemMemory } from '../proc/sysmem.js';
import { readStat } from '../proc/tree.js';
import { wholeMb } from '../../common/units.js';

export interface Instrumentation extends HeapReader {
  saveProfile(pid: number, reason: string): Promise<string>;
  snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void): Promise<string>;
  gc(pid: number): Promise<{ beforeBytes: number; afterBytes: number }>;
}

export interface ExecutorDeps {
  instruments: () => Instrumentation | undefined;
  /** Sends a message to a process's probe; false when it has none. */
  notify?: (pid: number, message: object) => boolean;
  /** Node processes with a live inspector session. */
  nodePids: () => number[];
  journal: Journal;
  notice: (message: string) => void;
  runId: () => string | undefined;
  agentPid: () => number | undefined;
  /** Ends the current run: `limit` when a memory rule killed it, `restart` to start a fresh one at once. */
  endRun: (kind: 'limit' | 'restart', why: string) => Promise<void>;
  /** Reaps what the subreaper adopted (one tree scan). */
  reap: () => void;
  /** Summarises a capture off the main thread; its top sites go into the capture's alert line. */
  analyze?: (file: string) => Promise<{ top?: unknown[] } | undefined>;
  onAlert?: (level: Level) => void;
  onCapture?: (kind: 'profile' | 'snapshot') => void;
}

export interface ExecutorOptions {
  cooldownMs: number;
  maxCapturesPerRun: number;
  killTimeoutMs: number;
}

type Gated = 'capture' | 'gc' | 'cleanup';

/** Cooldowns per action kind and process, caps per run. */
export class Gate {
  private readonly last = new Map<string, number>();
  private captures = 0;

  constructor(private readonly opts: Pick<ExecutorOptions, 'cooldownMs' | 'maxCapturesPerRun'>) {}

  /** Why the action may not run now, or undefined when it may. */
  check(kind: Gated, target: number | 'tree', now: number, manual: boolean): string | undefined {
    if (kind === 'capture' && this.captures >= this.opts.maxCapturesPerRun) {
      return `the run's capture cap (--max-captures ${this.opts.maxCapturesPerRun}) is reached`;
    }
    const last = this.last.get(`${kind}:${target}`);
    if (!manual && last !== undefined && now - last < this.opts.cooldownMs) {
      return `${kind} of ${target === 'tree' ? 'the tree' : `pid ${target}`} is cooling down for ${Math.ceil((this.opts.cooldownMs - (now - last)) / 1000)} s`;
    }
    return undefined;
  }

  record(kind: Gated, target: number | 'tree', now: number): void {
    this.last.set(`${kind}:${target}`, now);
    if (kind === 'capture') this.captures++;
  }

  /** Forgets processes that are gone, so the map stays as small as the tree. */
  retain(pids: ReadonlySet<number>): void {
    for (const key of this.last.keys()) {
      const target = key.split(':')[1]!;
      if (target !== 'tree' && !pids.has(Number(target))) this.last.delete(key);
    }
  }

  newRun(): void {
    this.captures = 0;
    this.last.clear();
  }
}

export interface RunRecord {
  warnings: number;
  captures: string[];
}

export class Executor {
  readonly gate: Gate;
  private run: RunRecord = { warnings: 0, captures: [] };
  private readonly analyses = new Set<Promise<void>>();

  constructor(
    private readonly deps: ExecutorDeps,
    private readonly opts: ExecutorOptions,
  ) {
    this.gate = new Gate(opts);
  }

  /** Starts the bookkeeping of a new run and returns the finished one's. */
  newRun(): RunRecord {
    const done = this.run;
    this.run = { warnings: 0, captures: [] };
    this.gate.newRun();
    return done;
  }

  async execute(action: Action, manual = false): Promise<unknown> {
    switch (action.kind) {
      case 'alert':
        return this.alert(action);
      case 'capture':
        return this.capture(action.pid, action.reason, 'profile', manual || action.urgent === true);
      case 'gc':
        return this.gc(action.pid, action.reason, manual);
      case 'cleanup':
        return this.cleanup(action.reason, manual);
      case 'terminate':
        return this.terminate(action.pid, action.reason);
      case 'restart':
        return this.restart(action.reason, manual);
    }
  }

  private alert(a: Extract<Action, { kind: 'alert' }>): void {
    if (rank(a.level) >= rank('warning')) this.run.warnings++;
    this.deps.onAlert?.(a.level);
    const { kind: _kind, ...fields } = a;
    this.deps.journal.alerts.info({ ...fields, run_id: this.deps.runId(), system_memory: systemMemory() });
    if (rank(a.level) >= rank('warning')) this.deps.notice(`[${a.level}] ${a.message}`);
  }

  private refuseUnless(kind: Gated, target: number | 'tree', manual: boolean): void {
    const why = this.gate.check(kind, target, Date.now(), manual);
    if (why) {
      this.deps.journal.log.info({ kind, target, manual }, `not now: ${why}`);
      throw new Refused(why, 409);
    }
    this.gate.record(kind, target, Date.now());
  }

  private instrumented(pid: number): Instrumentation {
    const ins = this.deps.instruments();
    if (!ins?.has(pid)) throw new Refused(`pid ${pid} has no inspector session (not a node process of the tree, or --no-inspect)`, 404);
    return ins;
  }

  async capture(pid: number, reason: string, kind: 'profile' | 'snapshot', manual: boolean, onProgress?: (done: number, total: number) => void): Promise<{ file: string; pid: number; kind: string }> {
    const ins = this.instrumented(pid);
    this.refuseUnless('capture', pid, manual);
    const file = kind === 'snapshot' ? await ins.snapshot(pid, reason, onProgress) : await ins.saveProfile(pid, reason);
    this.run.captures.push(file);
    this.deps.onCapture?.(kind);
    this.deps.notice(`capture written: ${file}`);
    this.deps.journal.log.info({ pid, reason, kind, file, manual }, 'capture written');
    const analysis = this.summarise(file, pid, reason);
    this.analyses.add(analysis);
    void analysis.finally(() => this.analyses.delete(analysis));
    return { file, pid, kind };
  }

  /** Waits for the analyses still running, so their lines reach the journal before the supervisor exits. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.analyses]);
  }

  private async summarise(file: string, pid: number, reason: string): Promise<void> {
    if (!this.deps.analyze) return;
    try {
      const summary = await this.deps.analyze(file);
      if (!summary) return;
      this.deps.journal.alerts.info({
        level: 'info',
        metric: 'capture',
        pid,
        message: `capture analysed: ${file}`,
        reason,
        file,
        summary: `${file}.summary.json`,
        top_sites: summary.top?.slice(0, 5) ?? [],
        run_id: this.deps.runId(),
        system_memory: systemMemory(),
      });
    } catch (err) {
      this.deps.journal.log.warn({ file, err: (err as Error).message }, 'capture analysis failed');
    }
  }

  async gc(pid: number, reason: string, manual: boolean): Promise<{ pid: number; beforeBytes: number; afterBytes: number }> {
    const ins = this.instrumented(pid);
    this.refuseUnless('gc', pid, manual);
    const r = await ins.gc(pid);
    this.deps.journal.log.info({ pid, reason, ...r, freed_mb: wholeMb(r.beforeBytes - r.afterBytes) }, 'forced GC');
    return { pid, ...r };
  }

  /** GC every node process, reap adopted orphans, and tell each app through its probe to drop caches. */
  async cleanup(reason: string, manual: boolean): Promise<{ gc: unknown[]; notified: number }> {
    this.refuseUnless('cleanup', 'tree', manual);
    this.deps.reap();
    const pids = this.deps.nodePids();
    let notified = 0;
    for (const pid of pids) if (this.deps.notify?.(pid, { type: 'memory-pressure', level: 'critical' })) notified++;
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
  private async captureBefore(pids: number[], reason: string, manual: boolean): Promise<void> {
    await Promise.all(
      pids
        .filter((pid) => this.deps.instruments()?.has(pid))
        .map((pid) => this.capture(pid, reason, 'profile', manual).catch(() => undefined)),
    );
  }

  private async terminate(pid: number, reason: string): Promise<void> {
    await this.captureBefore([pid], 'before-terminate', false);
    if (pid === this.deps.agentPid()) {
      await this.deps.endRun('limit', reason);
      return;
    }
    const identity = readStat(pid)?.startTime;
    this.deps.journal.log.warn({ pid, reason }, 'terminating a process over its limit');
    this.deps.journal.alerts.info({ level: 'hard', metric: 'limit', pid, message: `terminated pid ${pid}: ${reason}`, exit: { reason: 'limit' }, run_id: this.deps.runId(), system_memory: systemMemory() });
    const same = () => {
      const now = readStat(pid);
      return identity !== undefined && now?.startTime === identity && now.state !== 'Z';
    };
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const deadline = Date.now() + this.opts.killTimeoutMs;
    while (same() && Date.now() < deadline) await sleep(50);
    if (same()) process.kill(pid, 'SIGKILL');
  }

  private async restart(reason: string, manual: boolean): Promise<void> {
    await this.captureBefore(this.deps.nodePids(), 'before-restart', manual);
    await this.deps.endRun('restart', reason);
  }
}
