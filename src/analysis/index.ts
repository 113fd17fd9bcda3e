import { readFile, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic-write.js';
import { MessageChannel } from 'node:worker_threads';
import { type CaptureKind, KIND_NAMES, describeIoError, detectKind } from './detect.js';
import { AnalysisError } from './errors.js';
import { formatBytes, pathText, siteText } from './format.js';
import { type AnalysisPool, sharedAnalysisPool } from './pool.js';
import { type Pprof, heapProfileToPprof } from './pprof.js';
import type { AnalysisTask, Diff, Summary } from './worker.js';

export { AnalysisError } from './errors.js';
export { type CaptureKind, KIND_NAMES, detectKind } from './detect.js';
export { formatReport } from './format.js';
export { isJscSnapshotFile } from './jsc-snapshot.js';
export { type AnalysisPool, type AnalysisPoolOptions, closeSharedAnalysisPool, createAnalysisPool, sharedAnalysisPool } from './pool.js';
export type { ProfileDiff, ProfileSummary } from './profile.js';
export type { SnapshotDiff, SnapshotSummary } from './snapshot.js';
export type { Diff, Summary } from './worker.js';

export interface AnalyzeOptions {
  /** How many entries each ranked list keeps (default 20). */
  top?: number;
  /** Bytes of snapshot read so far, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
  /** Defaults to the shared pool. */
  pool?: AnalysisPool;
}

const DEFAULT_TOP = 20;

async function runTask(kind: CaptureKind, files: string[], opts: AnalyzeOptions): Promise<Summary | Diff> {
  const pool = opts.pool ?? sharedAnalysisPool();
  const channel = opts.onProgress ? new MessageChannel() : undefined;
  const onProgress = opts.onProgress;
  if (channel && onProgress) {
    channel.port1.on('message', (m: { done: number; total: number }) => onProgress(m.done, m.total));
  }
  const task: AnalysisTask = { kind, files, top: opts.top ?? DEFAULT_TOP, ...(channel ? { progress: channel.port2 } : {}) };
  try {
    const outcome = await pool.run(task, channel ? { transferList: [channel.port2] } : {});
    if (!outcome.ok) throw new AnalysisError(outcome.error);
    return outcome.result;
  } finally {
    channel?.port1.close();
  }
}

/** Summarises one heap profile or heap snapshot in the analysis pool, off the caller's thread. */
export async function analyzeFile(path: string, opts: AnalyzeOptions = {}): Promise<Summary> {
  return (await runTask(await detectKind(path), [path], opts)) as Summary;
}

/** Compares two captures of the same kind and process, `before` then `after`. */
export async function diffFiles(before: string, after: string, opts: AnalyzeOptions = {}): Promise<Diff> {
  const [a, b] = await Promise.all([detectKind(before), detectKind(after)]);
  if (a !== b) throw new AnalysisError(`cannot compare a ${KIND_NAMES[a]} with a ${KIND_NAMES[b]}`);
  return (await runTask(a, [before, after], opts)) as Diff;
}

/**
 * Analyses a capture the supervisor just saved and writes `<path>.summary.json` beside it (0600,
 * complete or absent: common/atomic-write.ts).
 */
export async function analyzeCapture(path: string, opts: AnalyzeOptions = {}): Promise<Summary> {
  const summary = await analyzeFile(path, opts);
  await writeFileAtomic(`${path}.summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Writes a `.heapprofile` as a gzipped pprof profile to `output` (0600, like the captures it comes from). */
export async function writePprof(input: string, output: string): Promise<Omit<Pprof, 'gzipped'>> {
  const kind = await detectKind(input);
  if (kind !== 'heapprofile') throw new AnalysisError(`${input}: a ${KIND_NAMES[kind]}; pprof holds allocation profiles: give a .heapprofile`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(input, 'utf8'));
  } catch (err) {
    throw new AnalysisError(`${input}: ${err instanceof SyntaxError ? `not a valid heap profile: ${err.message}` : describeIoError(err)}`);
  }
  const { gzipped, ...counts } = heapProfileToPprof(raw);
  try {
    await writeFile(output, gzipped, { mode: 0o600 });
  } catch (err) {
    throw new AnalysisError(`cannot write ${output}: ${describeIoError(err)}`);
  }
  return counts;
}

export interface TopSite {
  readonly site: string;
  readonly bytes: number;
  readonly share: number;
}

/** The few lines an alert carries: allocation sites of a profile, or largest retainers of a snapshot. */
export function topSites(summary: Summary, n = 5): TopSite[] {
  if (summary.kind === 'heapprofile') {
    return summary.sites.slice(0, n).map((s) => ({ site: siteText(s), bytes: s.bytes, share: s.share }));
  }
  return summary.topRetained.slice(0, n).map((o) => ({
    site: o.path ? pathText({ steps: o.path.steps.slice(-3), elided: 0 }) : o.name,
    bytes: o.retainedSize,
    share: o.share,
  }));
}

/** One line per site, for logs: `12.3 MiB 45.0% makeLeak /app/x.js:10:5`. */
/**
 * What grew between two captures of one process, one line each: a profile's sites (`leak (/app/x.js:10:5) +12.3
 * MiB`), a snapshot's classes (`LeakyRecord +12.3 MiB (+10000)`).
 */
export async function grewText(before: string, after: string, n = 5): Promise<string[]> {
  const diff = await diffFiles(before, after, { top: n });
  if (diff.kind === 'heapprofile-diff') return diff.grew.slice(0, n).map((g) => `${siteText(g)} +${formatBytes(g.delta)}`);
  return diff.grew.slice(0, n).map((g) => `${g.name} +${formatBytes(g.sizeDelta)} (+${g.countDelta})`);
}

export function topSitesText(summary: Summary, n = 5): string[] {
  return topSites(summary, n).map((s) => `${formatBytes(s.bytes)} ${(s.share * 100).toFixed(1)}% ${s.site}`);
}
