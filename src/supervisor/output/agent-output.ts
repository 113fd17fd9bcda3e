// The agent's stdout and stderr for one run: the pipes the plan asks for, each copied to its destination and
// into the agent log, and the last lines of stderr for the run's record. Made before the spawn (the pipes' write
// ends become the agent's fds), given the run's id, and settled after the agent ended.
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import { redactText } from '../../common/redact.js';
import type { AgentLog } from './agent-log.js';
import { closeAll, PipeCopy } from './copy.js';
import { LineSplitter, LogBudget, Tail, type Line } from './lines.js';
import { planOutput, type PlannedPipe } from './plan.js';

/** A line of the log longer than this is cut into pieces: a binary blob without newlines stays bounded. */
const MAX_LINE_CHARS = 16 * 1024;
/** What the log takes of each stream (LogBudget): a burst of 16 MiB, then 1 MiB a second. */
const LOG_BURST_BYTES = 16 * 1024 * 1024;
const LOG_RATE_BYTES = 1024 * 1024;
/** The run record's last_stderr: Node's OOM report ("Last few GCs", FATAL ERROR, the native stack) is ~30 lines. */
export const LAST_STDERR_LINES = 50;
const LAST_STDERR_CHARS = 512;
/** Enough of a chunk the log skips for the last stderr lines. */
const TAIL_BYTES = LAST_STDERR_LINES * LAST_STDERR_CHARS;

export interface OutputPipes {
  pipe(): [number, number] | undefined;
}

/** Whether fds 1 and 2 are one file, pipe or socket. */
function sameDestination(): boolean {
  try {
    const [a, b] = [fstatSync(1), fstatSync(2)];
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

export function stdioFacts(enabled: boolean): Parameters<typeof planOutput>[0] {
  return { enabled, stdoutTty: isatty(1), stderrTty: isatty(2), sameDestination: enabled && sameDestination() };
}

export class AgentOutput {
  /** What the agent gets as fds 0-2. */
  readonly stdio: [number, number, number] = [0, 1, 2];
  private readonly writeEnds: number[] = [];
  private readonly copies: PipeCopy[] = [];
  private readonly lastStderrLines = new Tail<string>(LAST_STDERR_LINES);
  private readonly waiting = new Set<() => void>();

  /** Without a pipe for a planned stream (out of descriptors), that stream stays the supervisor's own. */
  constructor(
    libc: OutputPipes,
    plan: readonly PlannedPipe[],
    private readonly log: AgentLog,
    private readonly run: string,
    onFailure: (why: string) => void,
  ) {
    for (const planned of plan) {
      const ends = libc.pipe();
      if (!ends) {
        onFailure(`no pipe for the agent's ${planned.stream} (out of descriptors?): it goes out unlogged`);
        continue;
      }
      const [read, write] = ends;
      for (const fd of planned.fds) this.stdio[fd] = write;
      this.writeEnds.push(write);
      this.copies.push(this.copy(planned, read, onFailure));
    }
  }

  /** Whether this run's stderr is read here (else the last lines come from a fatal-error report, if any). */
  get readsStderr(): boolean {
    return this.stdio[2] !== 2;
  }

  /** The spawn is done (or failed): only the agent's tree holds the write ends now. */
  spawned(): void {
    closeAll(this.writeEnds.splice(0));
  }

  /** Resolves when every pipe is at its end (the whole tree closed it) or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.copies.every((c) => c.ended)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  lastStderr(): string[] {
    return this.lastStderrLines.get();
  }

  private copy(planned: PlannedPipe, read: number, onFailure: (why: string) => void): PipeCopy {
    const splitter = new LineSplitter(MAX_LINE_CHARS);
    const budget = new LogBudget(LOG_RATE_BYTES, LOG_BURST_BYTES);
    const keepsStderr = planned.fds.includes(2);
    let skipped = 0;
    const take = (lines: Line[]) => {
      if (skipped > 0) {
        this.log.skipped(this.run, planned.stream, skipped);
        skipped = 0;
      }
      this.log.write(this.run, planned.stream, lines);
      if (keepsStderr) this.lastStderrLines.push(lines.slice(-LAST_STDERR_LINES).map((l) => redactText(l.text).slice(0, LAST_STDERR_CHARS)));
    };
    const chunk = (data: Buffer) => {
      if (budget.take(data.length, Date.now())) return take(splitter.push(data));
      // Over budget: not even split (a flood of short lines would cost more than the copy), except what stderr's
      // last lines need; the line it was in is cut.
      if (keepsStderr) this.lastStderrLines.push(new LineSplitter(MAX_LINE_CHARS).push(data.subarray(-TAIL_BYTES)).map((l) => redactText(l.text).slice(0, LAST_STDERR_CHARS)));
      splitter.reset();
      skipped += data.length;
    };
    return new PipeCopy(read, planned.fds[0]!, {
      chunk,
      end: () => {
        take(splitter.end());
        if (this.copies.every((c) => c.ended)) for (const done of [...this.waiting]) done();
      },
      failed: (err) => onFailure(`cannot write the agent's ${planned.stream} to fd ${planned.fds[0]} (${err.code ?? err.message}); it is kept in the agent log only`),
    });
  }
}
