// A state dir read into a report: runs, then processes (judged by their runs' endings), alerts and capture
// summaries, each streamed through the builder and kept to the period.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type Report, ReportBuilder } from './aggregate.js';
import { type JournalCounts, emptyCounts, readJournal } from './journals.js';
import { type CaptureSummary, alertLine, processLine, profileSummary, runLine } from './records.js';

export const JOURNALS = { runs: 'runs.jsonl', processes: 'processes.jsonl', alerts: 'alerts.jsonl' } as const;
export const CAPTURES_DIR = 'captures';
const SUMMARY_SUFFIX = '.summary.json';
/** A summary holds ranked lists of a few dozen entries; anything far larger is not one. */
const MAX_SUMMARY_BYTES = 16 * 1024 * 1024;
const CAPTURE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}\.\d{3})Z-/;

export interface Sources {
  readonly journals: Record<string, JournalCounts>;
  readonly captures: JournalCounts;
}

export interface FullReport extends Report {
  readonly stateDir: string;
  readonly sources: Sources;
}

/** When a capture was taken: from its name (`2026-11-21T08-50-00.123Z-<pid>-<reason>…`), else its mtime. */
function captureTime(name: string, mtimeMs: number): number {
  const m = CAPTURE_TIME.exec(name);
  const t = m ? Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`) : NaN;
  return Number.isFinite(t) ? t : mtimeMs;
}

async function readSummaries(dir: string, since: number, onSummary: (c: CaptureSummary) => void, counts: JournalCounts): Promise<void> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith(SUMMARY_SUFFIX)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const st = await fs.stat(file);
      const t = captureTime(name, st.mtimeMs);
      if (t < since) continue;
      counts.files++;
      if (st.size > MAX_SUMMARY_BYTES) throw new Error('too large for a capture summary');
      counts.lines++;
      let summary: CaptureSummary['summary'] | undefined;
      try {
        summary = profileSummary(JSON.parse(await fs.readFile(file, 'utf8')));
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
      if (summary) onSummary({ t, summary });
      else counts.skipped++;
    } catch (err) {
      counts.unreadable.push(`${name}: ${(err as Error).message}`);
    }
  }
}

/** Reads `stateDir` (which must exist) into the report of the period from `since` to `now`. */
export async function collectReport(stateDir: string, since: number, now: number): Promise<FullReport> {
  const builder = new ReportBuilder(since, now);
  const journals: Record<string, JournalCounts> = {};
  const read = async <T extends { t: number }>(name: string, parse: (raw: unknown) => T | undefined, add: (r: T) => void) => {
    journals[name] = emptyCounts();
    await readJournal(stateDir, name, parse, (r) => r.t >= since && add(r), journals[name]);
  };
  await read(JOURNALS.runs, runLine, (r) => builder.addRun(r));
  await read(JOURNALS.processes, processLine, (p) => builder.addProcess(p));
  await read(JOURNALS.alerts, alertLine, (a) => builder.addAlert(a));
  const captures = emptyCounts();
  await readSummaries(path.join(stateDir, CAPTURES_DIR), since, (c) => builder.addCapture(c), captures);
  return { stateDir, ...builder.build(), sources: { journals, captures } };
}
