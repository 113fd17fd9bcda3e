// One run of the agent: everything that belongs to it and nothing that outlives it. A new Run is made for each
// start, so per-run state (memory figures, cooldowns, the capture cap, warnings, captures, actions in flight) is
// fresh by construction, and the Run writes its own record when it ends.
import type { RunBook } from '../act/executor.js';
import { Gate } from '../act/gate.js';
import { wholeMb } from '../../common/units.js';
import type { ProcessSample } from '../watch/policy.js';
import type { ExitReason, MemberCause, RunLine } from '../journal/run-line.js';

/** Whole-tree RSS over a run: where it started, its peak and where it ended. */
export class RunMemory {
  startMb?: number;
  peakMb?: number;
  endMb?: number;

  add(processes: readonly { rssBytes: number }[]): void {
    if (processes.length === 0) return;
    const mb = wholeMb(processes.reduce((sum, p) => sum + p.rssBytes, 0));
    this.startMb ??= mb;
    this.peakMb = Math.max(this.peakMb ?? 0, mb);
    this.endMb = mb;
  }
}

/**
 * The tree's reading to keep from a tick: a process that is exiting (killed and its memory already released, or a
 * zombie not yet reaped) reads RSS 0, and the kernel's OOM killer is seen exactly then; for it, and for a tree
 * already gone, the reading before says what it held.
 */
export function lastLiving(before: readonly ProcessSample[], now: readonly ProcessSample[]): readonly ProcessSample[] {
  // A tick between the agent's reaping and its run's record finds no tree at all.
  if (now.length === 0) return before;
  if (!now.some((p) => p.rssBytes === 0)) return now;
  const previous = new Map(before.map((p) => [p.pid, p]));
  return now.map((p) => (p.rssBytes === 0 ? (previous.get(p.pid) ?? p) : p));
}

export interface RunEnding {
  kind: 'limit' | 'restart';
  why: string;
}

/** Processes a run record lists at its last reading: the largest, which is where memory went. */
const LAST_READINGS = 10;

/** A memory rule ended a process of the run recently enough that the run's own end is its consequence. */
const LIMIT_CONSEQUENCE_MS = 10_000;

export class Run implements RunBook {
  readonly memory = new RunMemory();
  readonly gate = new Gate();
  readonly captures: string[] = [];
  warnings = 0;
  /** Some process of the run had its heap past the critical fraction at the last reading. */
  heapNearLimit = false;
  /** A worker thread of the agent died of its heap, unhandled: the agent's end is that OOM. */
  agentWorkerOom = false;
  /** Why the supervisor itself is ending this run, if it is. */
  ending?: RunEnding;
  /** The processes of the last tick: the tree as it was when memory ended it (see lastLiving). */
  lastReading: readonly ProcessSample[] = [];
  /** The cgroup's OOM-kill counter at the run's start, and as last compared. */
  oomKillsAtStart?: number;
  private oomKillsSeen?: number;
  private readonly members: Partial<Record<MemberCause, number>> = {};
  private lastLimitKill?: { at: number; pid: number; why: string };
  /** Per process, for processes.jsonl: warnings raised, and the last signal a memory rule sent it. */
  private readonly warned = new Map<number, number>();
  private readonly limited = new Map<number, NodeJS.Signals>();
  private readonly trendCaptures = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    readonly id: string,
    readonly pid: number,
    readonly argv: string[],
    readonly startedAt: number,
    private readonly terminate: (run: Run) => Promise<void>,
  ) {}

  /** Ends the run on the supervisor's own account; a second request while it ends changes nothing. */
  async end(kind: RunEnding['kind'], why: string): Promise<void> {
    if (this.ending) return;
    this.ending = { kind, why };
    await this.terminate(this);
  }

  limitKilled(pid: number, why: string, signal: NodeJS.Signals): void {
    this.lastLimitKill = { at: Date.now(), pid, why };
    this.limited.set(pid, signal);
  }

  startOomKills(count: number | undefined): void {
    this.oomKillsAtStart = this.oomKillsSeen = count;
  }

  /** The counter rose since last compared: the kernel killed a process of the group meanwhile. */
  oomKillsRose(count: number | undefined): boolean {
    if (count === undefined) return false;
    const rose = this.oomKillsSeen !== undefined && count > this.oomKillsSeen;
    this.oomKillsSeen = count;
    return rose;
  }

  memberEnded(cause: MemberCause): void {
    this.members[cause] = (this.members[cause] ?? 0) + 1;
  }

  trendCapture(isolate: string, file: string): string | undefined {
    const before = this.trendCaptures.get(isolate);
    this.trendCaptures.set(isolate, file);
    return before;
  }

  warning(pid: number | undefined): void {
    this.warnings++;
    if (pid !== undefined) this.warned.set(pid, (this.warned.get(pid) ?? 0) + 1);
  }

  /** What the run knows of one of its processes that ended; forgotten once asked, so the maps stay small. */
  processEnd(pid: number): { warnings: number; limitSignal?: NodeJS.Signals } {
    const signal = this.limited.get(pid);
    const end = { warnings: this.warned.get(pid) ?? 0, ...(signal ? { limitSignal: signal } : {}) };
    this.warned.delete(pid);
    this.limited.delete(pid);
    this.trendCaptures.delete(String(pid));
    return end;
  }

  /** A run that fails right after a memory rule killed one of its processes (`sh -c "node leak.js"`) ended by it. */
  endedByLimit(now: number, killTimeoutMs: number): RunEnding | undefined {
    if (this.ending?.kind === 'limit') return this.ending;
    const k = this.lastLimitKill;
    if (k && now - k.at <= killTimeoutMs + LIMIT_CONSEQUENCE_MS) return { kind: 'limit', why: `pid ${k.pid}: ${k.why}` };
    return undefined;
  }

  /** Actions started for this run; the run is written down only once they finished. */
  track(job: Promise<unknown>): void {
    this.inflight.add(job);
    // Whoever started the job handles its failure; this only forgets it, without a second, unhandled rejection.
    const forget = () => this.inflight.delete(job);
    job.then(forget, forget);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  /** The record as it would read if the run ended now, without its end: what the ledger keeps. */
  progress(restarts: number, now: number): Omit<RunLine, 'exit' | 'aborted'> {
    return {
      run_id: this.id,
      pid: this.pid,
      argv: this.argv,
      start_mb: this.memory.startMb ?? null,
      peak_mb: this.memory.peakMb ?? null,
      end_mb: this.memory.endMb ?? null,
      duration_seconds: Math.round(now - this.startedAt) / 1000,
      warnings: this.warnings,
      restarts,
      captures: [...this.captures],
      reports: [],
      members: { ...this.members },
    };
  }

  private lastReadings(): NonNullable<RunLine['last_readings']> {
    return [...this.lastReading]
      .sort((a, b) => b.rssBytes - a.rssBytes)
      .slice(0, LAST_READINGS)
      .map((p) => ({ pid: p.pid, role: p.role, rss_mb: wholeMb(p.rssBytes), ...(p.heapUsed !== undefined ? { heap_mb: wholeMb(p.heapUsed) } : {}) }));
  }

  record(end: {
    endedAt: number;
    code: number;
    signal: string | null;
    reason: ExitReason;
    why?: string;
    restarts: number;
    reports: string[];
    /** Memory ended it: the tree's last reading goes with the record. */
    memory: boolean;
    lastStderr?: { lines: string[]; source: 'stderr' | 'report' };
  }): RunLine {
    const failed = end.reason !== 'clean' && end.reason !== 'stopped';
    const last = failed && end.lastStderr && end.lastStderr.lines.length > 0 ? end.lastStderr : undefined;
    return {
      ...this.progress(end.restarts, end.endedAt),
      exit: { code: end.code, signal: end.signal, reason: end.reason, ...(end.why ? { why: end.why } : {}) },
      aborted: end.reason === 'stopped' || end.reason === 'limit',
      reports: end.reports,
      ...(end.memory && this.lastReading.length > 0 ? { last_readings: this.lastReadings() } : {}),
      ...(last ? { last_stderr: last.lines, last_stderr_source: last.source } : {}),
    };
  }
}
