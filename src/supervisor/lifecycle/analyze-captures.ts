// The captures the policy saves are analysed off the main thread, in the analysis pool, which is loaded the first
// time one is: a supervisor that never captures never pays for piscina and the parser. Snapshots can be
// gigabytes: one is analysed here only when it is small (the policy takes one of a small heap whose RSS grows
// outside it, where only a snapshot's retainers can name what holds the Buffers, and one of a Bun process, which
// has no sampling profiler); a larger one when a person asks (`analyze`).
import { stat } from 'node:fs/promises';
import type { TopSite } from '../../analysis/index.js';
import { MB } from '../../common/units.js';

type Analysis = typeof import('../../analysis/index.js');
let loaded: Analysis | undefined;

/** A snapshot file up to this size is analysed at once (its graph and dominators take a few times as much). */
export const AUTO_SNAPSHOT_BYTES = 128 * MB;

export async function analyzeSaved(file: string, before?: string): Promise<{ top: TopSite[]; grew?: string[] } | undefined> {
  const snapshot = file.endsWith('.heapsnapshot');
  if (!snapshot && !file.endsWith('.heapprofile')) return undefined;
  if (snapshot && (await stat(file)).size > AUTO_SNAPSHOT_BYTES) return undefined;
  const analysis = (loaded ??= await import('../../analysis/index.js'));
  const top = analysis.topSites(await analysis.analyzeCapture(file), 5);
  return before && !snapshot ? { top, grew: await analysis.grewText(before, file) } : { top };
}

/** Ends the pool's worker threads, if it was ever started. */
export async function closeAnalysis(): Promise<void> {
  await loaded?.closeSharedAnalysisPool();
}
