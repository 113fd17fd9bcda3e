import { readFileSync, statSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { type CaptureKind, describeIoError } from './detect.js';
import { computeDominators } from './dominators.js';
import { AnalysisError } from './errors.js';
import { buildRetainers } from './graph.js';
import { type ProfileDiff, type ProfileSummary, type SiteTable, diffProfiles, readProfile, summarizeProfile } from './profile.js';
import { isJscSnapshotFile, parseJscSnapshotFile } from './jsc-snapshot.js';
import { parseSnapshotFile } from './snapshot-parser.js';
import {
  type SnapshotDiff,
  type SnapshotSummary,
  type SnapshotTotals,
  classHistogram,
  diffSnapshots,
  summarizeSnapshot,
  totalSize,
} from './snapshot.js';

export type Summary = ProfileSummary | SnapshotSummary;
export type Diff = ProfileDiff | SnapshotDiff;

export interface AnalysisTask {
  readonly kind: CaptureKind;
  /** One file to summarise, or two (before, after) to compare. */
  readonly files: readonly string[];
  readonly top: number;
  /** Receives `{ done, total }` in bytes while snapshots are read. */
  readonly progress?: MessagePort;
}

export type AnalysisOutcome = { ok: true; result: Summary | Diff } | { ok: false; error: string };

/** Profiles are read whole; V8 cannot make a string much larger than this anyway. */
const MAX_PROFILE_BYTES = 256 * 1024 * 1024;

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new AnalysisError(describeIoError(err));
  }
}

function loadProfile(path: string): SiteTable {
  const size = fileSize(path);
  if (size === 0) throw new AnalysisError('empty file');
  if (size > MAX_PROFILE_BYTES) throw new AnalysisError('too large for a heap profile');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new AnalysisError('truncated or malformed heap profile (invalid JSON)');
    throw new AnalysisError(describeIoError(err));
  }
  return readProfile(raw);
}

/** Reports progress at most once per percent, so a large file does not flood the port. */
class Progress {
  private base = 0;
  private lastPercent = -1;

  constructor(
    private readonly port: MessagePort | undefined,
    private readonly total: number,
  ) {}

  readonly update = (bytes: number): void => {
    const done = this.base + bytes;
    const percent = this.total > 0 ? Math.floor((done * 100) / this.total) : 100;
    if (percent === this.lastPercent) return;
    this.lastPercent = percent;
    this.port?.postMessage({ done, total: this.total });
  };

  nextFile(bytes: number): void {
    this.base += bytes;
  }
}

/** Names the file in every error, so a diff says which of its two inputs is bad. */
function forFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AnalysisError) throw new AnalysisError(`${file}: ${err.message}`);
    throw err;
  }
}

function analyzeSnapshots(task: AnalysisTask): Summary | Diff {
  const sizes = task.files.map((file) => forFile(file, () => fileSize(file)));
  const progress = new Progress(task.progress, sizes.reduce((a, b) => a + b, 0));
  const totals: SnapshotTotals[] = [];
  for (const [i, file] of task.files.entries()) {
    const graph = forFile(file, () => {
      if (sizes[i] === 0) throw new AnalysisError('empty file');
      return isJscSnapshotFile(file) ? parseJscSnapshotFile(file, sizes[i]!, progress.update) : parseSnapshotFile(file, progress.update);
    });
    progress.nextFile(sizes[i]!);
    if (task.files.length === 1) return summarizeSnapshot(file, graph, computeDominators(graph, buildRetainers(graph)), task.top);
    totals.push({ file, nodeCount: graph.nodeCount, totalSize: totalSize(graph), classes: classHistogram(graph) });
  }
  return diffSnapshots(totals[0]!, totals[1]!, task.top);
}

function analyzeProfiles(task: AnalysisTask): Summary | Diff {
  const [a, b] = task.files;
  const before = forFile(a!, () => loadProfile(a!));
  if (b === undefined) return summarizeProfile(a!, before, task.top);
  return diffProfiles([a!, b], before, forFile(b, () => loadProfile(b)), task.top);
}

/** The piscina entry. Bad files come back as `{ ok: false }` so the message survives the thread boundary intact. */
export default function analyze(task: AnalysisTask): AnalysisOutcome {
  try {
    const result = task.kind === 'heapsnapshot' ? analyzeSnapshots(task) : analyzeProfiles(task);
    return { ok: true, result };
  } catch (err) {
    if (err instanceof AnalysisError) return { ok: false, error: err.message };
    throw err;
  } finally {
    task.progress?.close();
  }
}
