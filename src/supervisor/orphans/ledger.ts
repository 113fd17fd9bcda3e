// The run's ledger: which processes are the run's (by pid and start time, so a recycled pid is never taken for
// one of ours), its process group, and its record so far, rewritten as the tree changes. It is what ends the tree
// when the supervisor itself is killed: the watchdog gets its targets over its pipe on every tick (never from the
// file, which it could not tell from a planted one) and acts the moment the pipe closes, and the next supervisor
// (or `cleanup`) on the state dir reads the file, only when it is private and ours, to end what is left and
// write the lost run's record. Plain lines, so that the watchdog, a POSIX shell, can read them without a parser:
//   cfn-supervise-ledger 1
//   supervisor <pid> <start time>
//   run <the run record so far, one line of JSON>
//   pgid <the agent's process group>
//   mark <RUN_MARK_ENV=run id>, where runs are marked (no subreaper): what carries it is the run's too
//   pid <pid> <start time>
import { rmSync } from 'node:fs';
import { writeFileAtomicSync } from '../../common/atomic-write.js';
import { readPrivateFile, writePrivateFile } from '../../common/statedir.js';
import { endGracefully, signalPid } from '../proc/kill.js';
import { platform, readStat, stillLiving, type ProcStat } from '../../platform/index.js';
import type { RunLine } from '../journal/run-line.js';

const HEADER = 'cfn-supervise-ledger 1';
/** Far above any real ledger (a line per process): what a damaged one can cost to read. */
const MAX_LEDGER_BYTES = 16 << 20;

/** Where the ledger's targets go besides the file: the watchdog, told on every tick. */
export interface TargetsSink {
  tick(targets: string): void;
}

export interface LedgerEntry {
  /** The record as it would read if the run ended now; the lost run's runs.jsonl line is made from it. */
  record: Omit<RunLine, 'exit' | 'aborted'>;
  pgid: number;
  members: readonly Pick<ProcStat, 'pid' | 'startTime'>[];
  /** RUN_MARK_ENV=<run id>, where runs are marked: the watchdog also ends what carries it (watchdog.sh). */
  mark?: string;
}

/** How often the record alone is rewritten when it changed (a new peak, a warning, a capture). */
const RECORD_REFRESH_MS = 5000;
/**
 * How often it is rewritten when only its running figures moved (duration, last RSS): a lost run's record is
 * that much behind on them, and a calm supervisor does not rename a file every few seconds for nothing.
 */
const RUNNING_REFRESH_MS = 30_000;

export class Ledger {
  private lastMembers = '';
  private lastRecord = '';
  private lastWrite = 0;
  private readonly self = readStat('self');
  private sink?: TargetsSink;

  constructor(readonly file: string) {}

  /** From now on, every update's targets also go to `sink`. */
  tell(sink: TargetsSink): void {
    this.sink = sink;
  }

  /**
   * Rewrites the ledger at once when the membership changed, else when the record did (at most every
   * RECORD_REFRESH_MS), else every RUNNING_REFRESH_MS. Atomic (a temporary file renamed), so the watchdog never
   * reads half a ledger. A write that fails (a full disk) keeps the previous ledger and is tried again at the next
   * tick. Returns whether it wrote.
   */
  update(entry: LedgerEntry, now: number): boolean {
    const members = entry.members.map((m) => `pid ${m.pid} ${m.startTime}`).join('\n');
    this.sink?.tick([`pgid ${entry.pgid}`, entry.mark && `mark ${entry.mark}`, members].filter(Boolean).join('\n'));
    const { duration_seconds: _duration, end_mb: _end, ...events } = entry.record;
    const record = JSON.stringify(events);
    const since = now - this.lastWrite;
    const due = members !== this.lastMembers || since >= (record !== this.lastRecord ? RECORD_REFRESH_MS : RUNNING_REFRESH_MS);
    if (!due) return false;
    const lines = [
      HEADER,
      `supervisor ${process.pid} ${this.self?.startTime ?? 0}`,
      `run ${JSON.stringify(entry.record)}`,
      `pgid ${entry.pgid}`,
      entry.mark && `mark ${entry.mark}`,
      members,
    ];
    try {
      writeFileAtomicSync(this.file, `${lines.filter(Boolean).join('\n')}\n`);
      this.lastMembers = members;
      this.lastRecord = record;
      this.lastWrite = now;
      return true;
    } catch {
      return false;
    }
  }

  /** The run ended and was recorded: nothing of it is left to end or to record. */
  clear(): void {
    rmSync(this.file, { force: true });
    this.lastMembers = '';
    this.sink?.tick('');
  }

  /** The run's record was written after all (a supervisor that fails on its way out): keep only what to end. */
  recorded(): void {
    try {
      const kept = readPrivateFile(this.file, MAX_LEDGER_BYTES)
        ?.split('\n')
        .filter((line) => !line.startsWith('run '));
      if (kept) writePrivateFile(this.file, kept.join('\n'));
    } catch {
      // No ledger: nothing to keep.
    }
  }
}

export interface LostRun {
  /** The record of a run whose supervisor died before writing it. */
  record?: RunLine;
  supervisorPid?: number;
  /** Processes of that run still alive when found, now ended. */
  ended: { pid: number; comm: string }[];
}

/** What a lost supervisor's ledger says, read before anything of ours replaces it. */
export interface LostLedger {
  record?: LedgerEntry['record'];
  supervisorPid?: number;
  pgid?: number;
  members: { pid: number; startTime: number; comm: string }[];
}

/**
 * Takes the ledger a supervisor that died left in this state dir (the caller holds the state dir's lock, so its
 * writer is gone): its record and those of its processes still alive, and removes the file, so that the new
 * run's ledger cannot be confused with it. Synchronous and cheap: the ending can come later (endLostRun). Read
 * only when regular, ours, single-link and 0600 in a state dir nobody else can replace (the lock checked that):
 * else it throws a one-line UsageError and the file stays for a person to look at, its processes untouched.
 */
export function takeLostLedger(file: string): LostLedger | undefined {
  const text = readPrivateFile(file, MAX_LEDGER_BYTES);
  if (text === undefined) return undefined;
  rmSync(file, { force: true });
  const lines = text.split('\n');
  if (lines[0] !== HEADER) return undefined;
  const lost: LostLedger = { members: [] };
  const listed = new Set<number>();
  let mark: string | undefined;
  for (const line of lines.slice(1)) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'mark' && a) mark = a;
    if (kind === 'supervisor') lost.supervisorPid = Number(a);
    else if (kind === 'run') lost.record = parseRecord(line.slice(4));
    else if (kind === 'pgid') lost.pgid = Number(a);
    else if (kind === 'pid') {
      const stat = stillLiving(Number(a), Number(b));
      if (stat) lost.members.push({ pid: stat.pid, startTime: stat.startTime, comm: stat.comm });
      listed.add(Number(a));
    }
  }
  // An orphan its supervisor never saw (no subreaper brought it back) carries the run's mark.
  for (const pid of (mark ? platform().markedProcesses(mark) : undefined) ?? []) {
    const stat = listed.has(pid) ? undefined : readStat(pid);
    if (stat && stat.state !== 'Z') lost.members.push({ pid: stat.pid, startTime: stat.startTime, comm: stat.comm });
  }
  return lost;
}

/** Ends what is still alive of a lost run (TERM, the grace, KILL) and returns its record, now finished. */
export async function endLostRun(lost: LostLedger, graceMs: number): Promise<LostRun> {
  const alive = () =>
    lost.members.flatMap((m) => {
      const now = stillLiving(m.pid, m.startTime);
      return now ? [now] : [];
    });
  await endGracefully(
    {
      alive: () => alive().length > 0,
      signal: (signal) => {
        const live = alive();
        // The group only while one of its own still leads it or lives in it: a recycled group id is not ours.
        if (lost.pgid !== undefined && lost.pgid > 1 && live.some((p) => p.pgid === lost.pgid)) signalPid(-lost.pgid, signal);
        for (const p of live) signalPid(p.pid, signal);
      },
    },
    'SIGTERM',
    graceMs,
  );
  const { record } = lost;
  return {
    // How the agent ended is unknown: its supervisor was not there to see it.
    ...(record ? { record: { ...record, exit: { code: null, signal: null, reason: 'supervisor-lost' as const }, aborted: true } } : {}),
    ...(lost.supervisorPid ? { supervisorPid: lost.supervisorPid } : {}),
    ended: lost.members.map(({ pid, comm }) => ({ pid, comm })),
  };
}

function parseRecord(json: string): LedgerEntry['record'] | undefined {
  try {
    const r = JSON.parse(json) as LedgerEntry['record'];
    return typeof r?.run_id === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}
