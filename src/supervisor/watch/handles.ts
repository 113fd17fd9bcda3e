// Pure: a process's active handles by type (its probe counts process.getActiveResourcesInfo()), and which types
// grew. A descriptor or connection count says that something leaks; the handle type whose count grows with it
// says what: TCPSocketWrap for connections never closed, FSReqCallback or FileHandle for files, Timeout for timers.

export interface HandleReading {
  at: number;
  counts: Record<string, number>;
}

export interface HandleGrowth {
  /** Over how long, between the two readings compared. */
  seconds: number;
  /** The types whose count rose, by how much. */
  by: Record<string, number>;
}

/** How each type's count rose from `before` to `after`; undefined when none did. */
export function handleGrowth(before: HandleReading, after: HandleReading): HandleGrowth | undefined {
  const by: Record<string, number> = {};
  for (const [type, n] of Object.entries(after.counts)) {
    const rose = n - (before.counts[type] ?? 0);
    if (rose > 0) by[type] = rose;
  }
  if (Object.keys(by).length === 0) return undefined;
  return { seconds: Math.round((after.at - before.at) / 1000), by };
}

const SHOWN = 4;

/** `TCPSocketWrap 57 (+55 in 12 s), Timeout 2`: the types that grew most first, then the most numerous. */
export function handlesText(counts: Record<string, number> | undefined, grew?: HandleGrowth): string {
  if (!counts) return '';
  const rose = (type: string) => grew?.by[type] ?? 0;
  return Object.entries(counts)
    .sort(([a, n], [b, m]) => rose(b) - rose(a) || m - n || a.localeCompare(b))
    .slice(0, SHOWN)
    .map(([type, n]) => (rose(type) > 0 ? `${type} ${n} (+${rose(type)} in ${grew!.seconds} s)` : `${type} ${n}`))
    .join(', ');
}
