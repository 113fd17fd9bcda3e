// The runs.jsonl record and its words: how a run ended and what memory ended a process of it. The run writes it,
// the ledger keeps it for a supervisor that may die, the metrics count its reasons.

export type ExitReason = 'clean' | 'crash' | 'oom' | 'killed' | 'stopped' | 'limit' | 'oom-kill';

/** Memory that ended one process of the run: its heap (oom), a memory rule (limit), the kernel (oom-kill). */
export type MemberCause = 'oom' | 'limit' | 'oom-kill';

/** The runs.jsonl line (README: "What a run leaves in the state dir"). */
export interface RunLine {
  run_id: string;
  pid: number;
  argv: string[];
  /** Null when the run ended before its first sample. */
  start_mb: number | null;
  peak_mb: number | null;
  end_mb: number | null;
  duration_seconds: number;
  warnings: number;
  /** code is null only for a run whose supervisor was lost: nobody saw how it ended. */
  exit: { code: number | null; signal: string | null; reason: ExitReason | 'supervisor-lost'; why?: string };
  aborted: boolean;
  restarts: number;
  captures: string[];
  reports: string[];
  /** Processes of the tree (the agent left out) that memory ended, by cause: `{ oom: 1, limit: 1 }`. */
  members: Partial<Record<MemberCause, number>>;
  /** The tree at its last reading, largest first, when memory ended the run. */
  last_readings?: { pid: number; role: string; rss_mb: number; heap_mb?: number }[];
  /**
   * A failed run's last lines of stderr, redacted: as read from its pipe, or, where stderr was a terminal (never
   * read), what its fatal-error report says Node printed.
   */
  last_stderr?: string[];
  last_stderr_source?: 'stderr' | 'report';
}
