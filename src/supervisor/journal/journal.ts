// Everything the supervisor records: its own log (supervisor.log) and the JSON-lines journals (runs.jsonl,
// alerts.jsonl, processes.jsonl), each a pino logger writing whole lines into a LineFile, which survives a full disk: no line is
// ever cut, lines lost meanwhile are counted, and run records wait in memory until they can be written.
import { pino, type DestinationStream, type Logger } from 'pino';
import { parseBytes } from '../../common/units.js';
import { LineFile, type LineFileOptions } from './line-file.js';

export type JournalName = 'log' | 'runs' | 'alerts' | 'processes';

export interface JournalOptions {
  logFile: string;
  runsFile: string;
  alertsFile: string;
  processesFile: string;
  /** Size at which each journal rotates, e.g. '100M'. */
  journalSize?: string;
  logSize?: string;
  level?: string;
  /** Called once per line a journal could not write, with that journal's loss so far (1 on the first). */
  onDrop?: (journal: JournalName, dropped: number) => void;
}

export interface Journal {
  log: Logger;
  runs: Logger;
  alerts: Logger;
  /** One line per node process of the tree when it ends. */
  processes: Logger;
  /** Lines each journal has lost to a full or failing disk since it was opened. */
  dropped(): Record<JournalName, number>;
  /** Writes the run records a full disk held back; every journal write also tries first. */
  flushPending(): void;
  close(): Promise<void>;
}

const LOG_KEPT = 5;
const JOURNAL_KEPT = 10;
/** Run records are one line per run: a few dozen cover hours of restarts on a full disk. */
const RUNS_PENDING_MAX = 64;

const isoTime = () => `,"ts":"${new Date().toISOString()}"`;
// With the level formatted away nothing precedes the timestamp, so it must not open with a comma.
const leadingIsoTime = () => `"ts":"${new Date().toISOString()}"`;

function jsonLines(destination: DestinationStream): Logger {
  // Journal lines are records, not log messages: no level, pid or hostname noise, the timestamp first.
  return pino({ base: null, timestamp: leadingIsoTime, formatters: { level: () => ({}) } }, destination);
}

export function openJournal(opts: JournalOptions): Journal {
  const files: Partial<Record<JournalName, LineFile>> = {};
  const open = (name: JournalName, file: string, o: Omit<LineFileOptions, 'onDrop'>) => {
    files[name] = new LineFile(file, { ...o, onDrop: (n) => opts.onDrop?.(name, n) });
  };
  try {
    open('log', opts.logFile, { maxBytes: parseBytes(opts.logSize ?? '10M'), keep: LOG_KEPT });
    open('runs', opts.runsFile, { maxBytes: parseBytes(opts.journalSize ?? '100M'), keep: JOURNAL_KEPT, pendingMax: RUNS_PENDING_MAX });
    open('alerts', opts.alertsFile, { maxBytes: parseBytes(opts.journalSize ?? '100M'), keep: JOURNAL_KEPT });
    open('processes', opts.processesFile, { maxBytes: parseBytes(opts.journalSize ?? '100M'), keep: JOURNAL_KEPT });
  } catch (err) {
    for (const f of Object.values(files)) f.close();
    throw err;
  }
  const { log, runs, alerts, processes } = files as Record<JournalName, LineFile>;
  // Any write is a sign the disk may take lines again: held-back run records go first.
  const destination = (file: LineFile): DestinationStream => ({
    write(line: string) {
      runs.flushPending();
      file.write(line);
    },
  });
  return {
    log: pino(
      // `supervisor_pid`, not `pid`: log lines about a process carry that process's pid.
      { level: opts.level ?? 'info', timestamp: isoTime, base: { supervisor_pid: process.pid }, formatters: { level: (label) => ({ level: label }) } },
      destination(log),
    ),
    runs: jsonLines(destination(runs)),
    alerts: jsonLines(destination(alerts)),
    processes: jsonLines(destination(processes)),
    dropped: () => ({ log: log.dropped, runs: runs.dropped, alerts: alerts.dropped, processes: processes.dropped }),
    flushPending: () => runs.flushPending(),
    async close() {
      runs.close();
      log.close();
      alerts.close();
      processes.close();
    },
  };
}
