// The agent's process tree and the walks that signal, kill and reap it. Descendants that called setsid() or
// changed group escape the process group, so membership is by ancestry, by group, by adoption (we are the
// subreaper), by the run's mark in their environment (where there is no subreaper) and by memory of every pid seen in the run (keyed by start time, so a recycled pid is never mistaken
// for a member).
import { endGracefully, signalPid } from './kill.js';
import { RUN_MARK_ENV, platform, readStat, type ProcStat } from '../../platform/index.js';

/**
 * How often a scan reads every process of the machine rather than walking down from the tree it knows. Its cost
 * grows with the machine, not the tree (a real share of a supervisor's CPU: benchmarks/results/design-figures.md),
 * and what only it finds is rare: the subreaper gets every orphan of the tree, and a process once found stays a
 * member. Ending a run always starts with one (terminate).
 */
const FULL_SCAN_MS = 15_000;

const identity = (p: ProcStat) => `${p.pid}:${p.startTime}`;

export interface TreeScope {
  selfPid: number;
  selfPgid: number;
  agentPid?: number;
  agentPgid?: number;
  /** Processes that carry the run's mark (platform marksRuns): orphans no scan saw, found all the same. */
  marked?: ReadonlySet<number>;
  /** Identities of processes seen in this run. */
  seen: ReadonlySet<string>;
  /** Identities left alive on purpose (--orphans keep): never members again. */
  kept: ReadonlySet<string>;
  /**
   * The supervisor's own helpers (the watchdog, alert commands): never part of the run. Each leads a session of
   * its own, so what they start (and leave behind) is theirs too.
   */
  helpers?: ReadonlySet<number>;
}

/** Pure: the processes of the run, the supervisor itself excluded. */
export function collectMembers(procs: ReadonlyMap<number, ProcStat>, scope: TreeScope): ProcStat[] {
  const children = new Map<number, number[]>();
  for (const p of procs.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const roots: number[] = [];
  for (const p of procs.values()) {
    if (p.pid === scope.selfPid || scope.helpers?.has(p.pid) || scope.helpers?.has(p.sid)) continue;
    const adopted = p.ppid === scope.selfPid && p.pgid !== scope.selfPgid;
    const inGroup = scope.agentPgid !== undefined && p.pgid === scope.agentPgid;
    if (p.pid === scope.agentPid || adopted || inGroup || scope.marked?.has(p.pid) || scope.seen.has(identity(p))) roots.push(p.pid);
  }
  const members = new Map<number, ProcStat>();
  const queue = roots;
  while (queue.length > 0) {
    const pid = queue.pop()!;
    const p = procs.get(pid);
    if (!p || members.has(pid) || pid === scope.selfPid || scope.helpers?.has(pid) || scope.helpers?.has(p.sid) || scope.kept.has(identity(p))) continue;
    members.set(pid, p);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return [...members.values()];
}

/**
 * Pure: whether the agent's group number is still the run's. While the agent is unreaped its pid holds the number;
 * after, only while a process found another way (ancestry, adoption, the mark, seen before) is in the group. An
 * empty group's number is free: the kernel gives it to the next process that starts a group with that pid, and
 * its members must never be taken for the run's, nor signalled as its group.
 */
export function groupHeld(procs: ReadonlyMap<number, ProcStat>, scope: TreeScope): boolean {
  const { agentPgid, ...withoutGroup } = scope;
  if (agentPgid === undefined) return false;
  if (scope.agentPid !== undefined) return true;
  return collectMembers(procs, withoutGroup).some((p) => p.pgid === agentPgid);
}

export class ProcessTree {
  private readonly selfPgid: number;
  private agentPid?: number;
  private agentPgid?: number;
  private seen = new Set<string>();
  private readonly kept = new Set<string>();
  /** Counts runs: a termination started for one run must never reach into the next. */
  private generation = 0;
  private fullScanAt = -Infinity;
  private last: ProcStat[] = [];
  /** The run's mark in its processes' environment (RUN_MARK_ENV=<run id>), where the platform marks runs. */
  private mark?: string;
  private marked?: ReadonlySet<number>;
  /** The process table, which may keep the members' files open between partial scans. */
  private readonly table = platform().processTable();

  constructor(
    private readonly helpers: ReadonlySet<number> = new Set(),
    private readonly selfPid = process.pid,
    selfPgid?: number,
  ) {
    this.selfPgid = selfPgid ?? readStat(selfPid)?.pgid ?? selfPid;
  }

  /** `mark`: the run's id, which its processes carry in RUN_MARK_ENV (Launcher sets it where marksRuns). */
  beginRun(agentPid: number, mark?: string): void {
    this.agentPid = agentPid;
    this.mark = mark === undefined ? undefined : `${RUN_MARK_ENV}=${mark}`;
    this.marked = undefined;
    // The agent leads its own process group: its pgid is its pid.
    this.agentPgid = agentPid;
    this.seen = new Set();
    this.last = [];
    this.fullScanAt = -Infinity;
    this.generation++;
  }

  /** The agent itself is gone (it was reaped); its group and descendants may live on. */
  agentExited(): void {
    this.agentPid = undefined;
    // What the agent left behind is looked for by its mark at once: the next scan is a whole pass.
    if (this.mark) this.fullScanAt = -Infinity;
  }

  /** The agent's pid while it is unreaped: a number no other process can have. */
  get agent(): number | undefined {
    return this.agentPid;
  }

  /** RUN_MARK_ENV=<run id> where runs are marked: the watchdog ends what carries it too. */
  get runMark(): string | undefined {
    return this.mark;
  }

  /**
   * The run's live processes (zombies are dead for every purpose but their parent's wait). Every few seconds one
   * pass over all of /proc, which finds what nothing links to (a process that changed its parent twice); between
   * those, only the members, the agent, our own children (adopted orphans) and what hangs below them.
   */
  scan(forceFull = false): ProcStat[] {
    const now = Date.now();
    const full = forceFull || now - this.fullScanAt >= FULL_SCAN_MS;
    if (full) this.fullScanAt = now;
    // A whole look at every environment costs as much as a pass: with the pass only, its finds kept as members.
    // A look that failed keeps the run's last answer (beginRun drops it for the next run).
    if (full && this.mark) this.marked = platform().markedProcesses(this.mark) ?? this.marked;
    const procs = this.table.scan(full, () => [...(this.agentPid ? [this.agentPid] : []), ...this.last.map((p) => p.pid), ...platform().adoptedChildren()]);
    // Only a full pass can tell that a kept process is gone: a partial one does not look for it.
    if (full && this.kept.size > 0) this.forgetGone(procs);
    // Given up for the rest of the run once empty: what later bears its number is not the run's.
    if (this.agentPgid !== undefined && !groupHeld(procs, this.scope())) this.agentPgid = undefined;
    const members = collectMembers(procs, this.scope());
    this.seen = new Set(members.map(identity));
    this.last = members.filter((p) => p.state !== 'Z');
    return this.last;
  }

  /** What the last scan found, without scanning again. */
  get lastScan(): readonly ProcStat[] {
    return this.last;
  }

  /**
   * Sends a signal once to each process of the run: to the agent's group while it is the run's (one kill
   * reaches all its members), then to the members outside it (setsid escapees), never twice to the same process.
   */
  signalAll(signal: NodeJS.Signals, members = this.scan()): void {
    const group = this.agentPgid;
    if (group !== undefined) signalPid(-group, signal);
    for (const p of members) if (p.pgid !== group) signalPid(p.pid, signal);
  }

  /** Signals the whole run, waits up to graceMs for it to go, then SIGKILLs what remains. Returns what survived. */
  async terminate(signal: NodeJS.Signals, graceMs: number, hurry?: AbortSignal): Promise<ProcStat[]> {
    const generation = this.generation;
    const ours = () => generation === this.generation;
    // A full pass first: nothing of the run may be missed because the last one was a while ago.
    let members = this.scan(true);
    await endGracefully(
      {
        alive: () => ours() && (members = this.scan()).length > 0,
        signal: (sig) => {
          if (ours()) this.signalAll(sig, members);
        },
      },
      signal,
      graceMs,
      hurry,
    );
    return ours() ? members : [];
  }

  killAll(): Promise<ProcStat[]> {
    return this.terminate('SIGKILL', 0);
  }

  /** Closes the files kept open between scans; the next scan opens what it needs again. */
  close(): void {
    this.table.close();
  }

  /** --orphans keep: what is left of this run is no longer ours to track or kill. */
  release(members: ProcStat[]): void {
    for (const p of members) this.kept.add(identity(p));
  }

  private forgetGone(procs: ReadonlyMap<number, ProcStat>): void {
    for (const id of this.kept) {
      const p = procs.get(Number(id.split(':')[0]));
      if (!p || identity(p) !== id) this.kept.delete(id);
    }
  }

  private scope(): TreeScope {
    return {
      selfPid: this.selfPid,
      selfPgid: this.selfPgid,
      agentPid: this.agentPid,
      agentPgid: this.agentPgid,
      marked: this.marked,
      seen: this.seen,
      kept: this.kept,
      helpers: this.helpers,
    };
  }
}
