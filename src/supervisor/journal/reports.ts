// Node's fatal-error reports (--report-on-fatalerror): the evidence that a process of the tree died of heap
// exhaustion, whichever process it was and whatever exit code the shells above it turned that into.
import { chmodSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

export interface FatalReport {
  file: string;
  pid: number;
  event: string;
  oom: boolean;
}

const REPORT_NAME = /^report\..*\.json$/;
const HEAP_EXHAUSTED = /heap out of memory|reached heap limit/i;

function reportFiles(dir: string): { file: string; mtimeMs: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => REPORT_NAME.test(n))
    .flatMap((n) => {
      const file = path.join(dir, n);
      try {
        return [{ file, mtimeMs: statSync(file).mtimeMs }];
      } catch {
        return [];
      }
    });
}

/** Reports written since `sinceMs`, made private (the agent's umask wrote them) and read. */
export function collectReports(dir: string, sinceMs: number): FatalReport[] {
  const found: FatalReport[] = [];
  for (const { file, mtimeMs } of reportFiles(dir)) {
    if (mtimeMs < sinceMs) continue;
    try {
      chmodSync(file, 0o600);
      const header = (JSON.parse(readFileSync(file, 'utf8')) as { header?: { event?: string; processId?: number } }).header;
      const event = header?.event ?? '';
      found.push({ file, pid: header?.processId ?? 0, event, oom: HEAP_EXHAUSTED.test(event) });
    } catch {
      // A report still being written or cut short is no evidence either way.
    }
  }
  return found;
}

/** Keeps the newest `keep` reports: each holds the process's whole environment and can be megabytes. */
export function pruneReports(dir: string, keep: number): void {
  const files = reportFiles(dir).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { file } of files.slice(keep)) {
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  }
}
