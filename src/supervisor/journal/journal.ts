// Everything the supervisor records: its own log (supervisor.log) and the JSON-lines journals (runs.jsonl,
// alerts.jsonl), each a pino logger writing into a rotating-file-stream. pino hands the stream one whole line
// per write and rotating-file-stream rotates between writes, so a line is never split across files.
import { once } from 'node:events';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export interface JournalOptions {
  logFile: string;
  runsFile: string;
  alertsFile: string;
  /** Size at which each journal rotates, e.g. '100M'. */
  journalSize?: string;
  logSize?: string;
  level?: string;
}

export interface Journal {
  log: Logger;
  runs: Logger;
  alerts: Logger;
  close(): Promise<void>;
}

/**
 * Rotated files are named `<name>.<UTC time to the ms>[-n]`, so they sort in the order they were written
 * (the default generator reuses freed indexes).
 */
function rotatedName(base: string) {
  return (time: number | Date | null, index?: number): string => {
    if (!time) return base;
    const stamp = new Date(time).toISOString().replace(/[-:]/g, '').replace('T', '-').replace('Z', '');
    return `${base}.${stamp}${index && index > 1 ? `-${index}` : ''}`;
  };
}

function rotating(file: string, size: string, maxFiles: number, compress: boolean): RotatingFileStream {
  return createStream(rotatedName(path.basename(file)), {
    path: path.dirname(file),
    size,
    maxFiles,
    mode: 0o600,
    ...(compress ? { compress: 'gzip' as const } : {}),
  });
}

const isoTime = () => `,"ts":"${new Date().toISOString()}"`;
// With the level formatted away nothing precedes the timestamp, so it must not open with a comma.
const leadingIsoTime = () => `"ts":"${new Date().toISOString()}"`;

function jsonLines(stream: RotatingFileStream): Logger {
  // Journal lines are records, not log messages: no level, pid or hostname noise, the timestamp first.
  return pino({ base: null, timestamp: leadingIsoTime, formatters: { level: () => ({}) } }, stream);
}

export function openJournal(opts: JournalOptions): Journal {
  const logStream = rotating(opts.logFile, opts.logSize ?? '10M', 5, true);
  const runsStream = rotating(opts.runsFile, opts.journalSize ?? '100M', 10, false);
  const alertsStream = rotating(opts.alertsFile, opts.journalSize ?? '100M', 10, false);
  const streams = [logStream, runsStream, alertsStream];
  for (const s of streams) {
    // A full disk must not crash the supervisor and orphan the agent; the write is lost, the run goes on.
    s.on('error', () => {});
  }
  return {
    log: pino(
      { level: opts.level ?? 'info', timestamp: isoTime, base: { pid: process.pid }, formatters: { level: (label) => ({ level: label }) } },
      logStream,
    ),
    runs: jsonLines(runsStream),
    alerts: jsonLines(alertsStream),
    async close() {
      await Promise.all(
        streams.map(async (s) => {
          if (s.writableFinished || s.destroyed) return;
          s.end();
          await Promise.race([once(s, 'finish'), once(s, 'close'), once(s, 'error')]);
        }),
      );
    },
  };
}
