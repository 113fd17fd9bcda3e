// `cfn-supervise report [--state-dir D] [--since 7d] [--json] [--html FILE]`: runs, restarts and OOMs per day,
// memory per role and its growth across runs, the culprits, and thresholds to set, from the journals alone.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { CfnError, EXIT, UsageError, errorMessage } from '../common/errors.js';
import { DEFAULT_SINCE, collectReport, formatText, parseSince, renderHtml } from '../report/index.js';
import { inert, out, printJson } from './output.js';

async function requireStateDir(stateDir: string): Promise<string> {
  const dir = path.resolve(stateDir);
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st) throw new UsageError(`no state dir at ${dir}; give the one the supervisor ran with (--state-dir)`);
  if (!st.isDirectory()) throw new UsageError(`${dir} is not a folder; --state-dir names the supervisor's state dir`);
  return dir;
}

/** Complete or absent, owner-only (common/atomic-write.ts). */
async function writePage(file: string, html: string): Promise<string> {
  const target = path.resolve(file);
  try {
    await writeFileAtomic(target, html);
  } catch (err) {
    throw new CfnError(`cannot write ${target}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : errorMessage(err)}`);
  }
  return target;
}

/**
 * Prints the report of `stateDir` to stdout (text, or JSON with `json`), and with `html` also writes it as one
 * self-contained page. Exit 0; 2 on bad input (a missing state dir, a bad --since); 1 when the page cannot be
 * written. `since` defaults to 7d.
 */
export async function reportCommand(stateDir: string, opts: { since?: string; json?: boolean; html?: string }): Promise<number> {
  try {
    const now = Date.now();
    const since = parseSince(opts.since ?? DEFAULT_SINCE, now);
    if (opts.html !== undefined && opts.html.trim() === '') throw new UsageError('--html expects a file name');
    const report = await collectReport(await requireStateDir(stateDir), since, now);
    if (opts.html !== undefined) {
      const written = await writePage(opts.html, renderHtml(report));
      process.stderr.write(`cfn-supervise report: HTML written to ${inert(written, true)}\n`);
    }
    if (opts.json) printJson(report);
    else out(formatText(report));
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`cfn-supervise report: ${inert(errorMessage(err).split('\n')[0]!, true)}\n`);
    return err instanceof CfnError ? err.exitCode : EXIT.failure;
  }
}
