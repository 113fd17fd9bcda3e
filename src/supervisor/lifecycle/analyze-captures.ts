// The captures the policy saves are analysed off the main thread, in the analysis pool, which is loaded the first
// time one is: a supervisor that never captures never pays for piscina and the parser. V8 snapshots can be
// gigabytes: they are analysed only when a person asks (`analyze`). A Bun process's snapshots are, since Bun has
// no sampling profiler: the policy takes one in place of a profile only while its heap is small.
import type { TopSite } from '../../analysis/index.js';

type Analysis = typeof import('../../analysis/index.js');
let loaded: Analysis | undefined;

export async function analyzeProfile(file: string, before?: string): Promise<{ top: TopSite[]; grew?: string[] } | undefined> {
  if (!file.endsWith('.heapprofile') && !file.endsWith('.heapsnapshot')) return undefined;
  const analysis = (loaded ??= await import('../../analysis/index.js'));
  if (file.endsWith('.heapsnapshot') && !analysis.isJscSnapshotFile(file)) return undefined;
  const top = analysis.topSites(await analysis.analyzeCapture(file), 5);
  return before ? { top, grew: await analysis.grewText(before, file) } : { top };
}

/** Ends the pool's worker threads, if it was ever started. */
export async function closeAnalysis(): Promise<void> {
  await loaded?.closeSharedAnalysisPool();
}
