// The captures the policy saves are analysed off the main thread, in the analysis pool, which is loaded the first
// time one is: a supervisor that never captures never pays for piscina and the parser. Snapshots can be
// gigabytes: they are analysed only when a person asks (`analyze`).
import type { TopSite } from '../../analysis/index.js';

type Analysis = typeof import('../../analysis/index.js');
let loaded: Analysis | undefined;

export async function analyzeProfile(file: string, before?: string): Promise<{ top: TopSite[]; grew?: string[] } | undefined> {
  if (!file.endsWith('.heapprofile')) return undefined;
  const analysis = (loaded ??= await import('../../analysis/index.js'));
  const top = analysis.topSites(await analysis.analyzeCapture(file), 5);
  return before ? { top, grew: await analysis.grewText(before, file) } : { top };
}

/** Ends the pool's worker threads, if it was ever started. */
export async function closeAnalysis(): Promise<void> {
  await loaded?.closeSharedAnalysisPool();
}
