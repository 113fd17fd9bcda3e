// Figures over repeated runs, in the one shape the runner and the tables use: { median, min, max, runs }.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Numbers only; null when there is nothing to summarise, so a table shows an empty cell, not NaN. */
export function stat(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return null;
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs };
}

/**
 * 'yes' when every run met the goal, 'no' when none did, 'k/n runs' in between: a median can hide the
 * one run that missed. Missing values (no action at all) count as misses.
 */
export function goalMet(values, ok) {
  const hits = values.filter((v) => typeof v === 'number' && Number.isFinite(v) && ok(v)).length;
  if (values.length === 0) return 'n/a';
  if (hits === values.length) return 'yes';
  return hits === 0 ? 'no' : `${hits}/${values.length} runs`;
}
