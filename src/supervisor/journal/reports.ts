// Node's fatal-error reports (--report-on-fatalerror): the evidence that a process of the tree died of heap
// exhaustion, whichever process it was and whatever exit code the shells above it turned that into. A report
// holds the process's whole environment and command line; what is kept of it holds neither's secrets.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, fstatSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { redactArgv } from '../../common/redact.js';
import { openPrivateFile } from '../../common/statedir.js';

export interface FatalReport {
  file: string;
  pid: number;
  event: string;
  oom: boolean;
  /** What Node printed on stderr as it died, as far as the report says it: the error, then its JS stack. */
  stderr: string[];
}

const REPORT_NAME = /^report\..*\.json$/;
/** The copy stripSecrets writes before renaming it over the report. */
const STRIPPED_TMP = /^\.report\..*\.json\.[0-9a-f]+\.tmp$/;
const HEAP_EXHAUSTED = /heap out of memory|reached heap limit/i;

/** `report.<date>.<time>.<pid>.<thread>.<seq>.json`, as node names them; all of them without `pid`. */
function reportFiles(dir: string, pid?: number): { file: string; mtimeMs: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => REPORT_NAME.test(n) && (pid === undefined || n.split('.')[3] === String(pid)))
    .flatMap((n) => {
      const file = path.join(dir, n);
      try {
        return [{ file, mtimeMs: statSync(file).mtimeMs }];
      } catch {
        return [];
      }
    });
}

interface Report {
  header?: { event?: string; processId?: number; commandLine?: unknown };
  javascriptStack?: { message?: unknown; stack?: unknown };
  environmentVariables?: unknown;
}

/** A stack of a few hundred frames is not what a run record needs. */
const STACK_LINES = 20;

function stderrOf(report: Report, event: string): string[] {
  const js = report.javascriptStack;
  const stack = Array.isArray(js?.stack) ? js.stack.slice(0, STACK_LINES).map(String) : [];
  const message = typeof js?.message === 'string' && js.message !== 'No stack.' ? [js.message] : [];
  return [...(event ? [`FATAL ERROR: ${event}`] : []), ...message, ...stack.filter((l) => l !== 'Unavailable.')];
}

/** Reads a report without following a link and makes it private (the agent's umask wrote it). */
function readReport(file: string): Report {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if ((st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600);
    return JSON.parse(readFileSync(fd, 'utf8')) as Report;
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the report with a copy whose environment is the sorted list of its variables' names and whose
 * command line is redacted: written 0600 under a temporary name, then renamed over the original.
 */
function stripSecrets(file: string, report: Report): void {
  const env = report.environmentVariables;
  if (!env || typeof env !== 'object' || Array.isArray(env)) return;
  report.environmentVariables = Object.keys(env).sort();
  if (report.header && Array.isArray(report.header.commandLine)) report.header.commandLine = redactArgv(report.header.commandLine.map(String));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openPrivateFile(tmp, constants.O_WRONLY | constants.O_CREAT);
    try {
      writeFileSync(fd, `${JSON.stringify(report, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Reports written since `sinceMs` (of one process with `pid`), read, and kept private and without the environment's values. */
export function collectReports(dir: string, sinceMs: number, pid?: number): FatalReport[] {
  const found: FatalReport[] = [];
  for (const { file, mtimeMs } of reportFiles(dir, pid)) {
    if (mtimeMs < sinceMs) continue;
    let report: Report;
    try {
      report = readReport(file);
    } catch {
      // A report still being written or cut short is no evidence either way.
      continue;
    }
    try {
      stripSecrets(file, report);
    } catch {
      // A disk too full for the copy: the evidence counts more, and the original is already 0600.
    }
    const event = report.header?.event ?? '';
    found.push({ file, pid: report.header?.processId ?? 0, event, oom: HEAP_EXHAUSTED.test(event), stderr: stderrOf(report, event) });
  }
  return found;
}

/** Fatal-error reports kept in the state dir: each can be megabytes. */
export const REPORTS_KEPT = 20;

/** Keeps the newest `keep` reports, and no copy a stripping that died left behind. */
export function pruneReports(dir: string, keep: number): void {
  const files = reportFiles(dir).sort((a, b) => b.mtimeMs - a.mtimeMs);
  let leftovers: string[] = [];
  try {
    leftovers = readdirSync(dir).filter((n) => STRIPPED_TMP.test(n));
  } catch {
    // No reports folder: nothing to prune.
  }
  for (const file of [...files.slice(keep).map((f) => f.file), ...leftovers.map((n) => path.join(dir, n))]) {
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  }
}

/** Gives each fatal-error report to one run only: a fast restart must not claim its predecessor's. */
export class RunReports {
  private readonly claimed = new Set<string>();

  constructor(private readonly dir: string) {}

  /** Reports written since `sinceMs` that no earlier run claimed; the folder pruned to REPORTS_KEPT. */
  claim(sinceMs: number): FatalReport[] {
    const reports = collectReports(this.dir, sinceMs).filter((r) => !this.claimed.has(r.file));
    for (const r of reports) this.claimed.add(r.file);
    pruneReports(this.dir, REPORTS_KEPT);
    // Pruned ones are forgotten: the set stays as small as the folder.
    for (const file of this.claimed) if (!existsSync(file)) this.claimed.delete(file);
    return reports;
  }
}
