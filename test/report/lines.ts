// Journal lines as the supervisor writes them (runs.jsonl, processes.jsonl) and capture summaries as
// src/analysis writes them, for report tests that need more history than a test can live through.

const iso = (t: number) => new Date(t).toISOString();
let runSeq = 0;

/** A runs.jsonl line of a run that ended at `end`. */
export function runRecord(end: number, o: { reason?: string; restarts?: number; seconds?: number; peak?: number; id?: string } = {}) {
  runSeq++;
  return {
    ts: iso(end),
    run_id: o.id ?? `r-${runSeq}`,
    pid: 1000 + runSeq,
    argv: ['node', 'agent.js'],
    start_mb: 40,
    peak_mb: o.peak ?? 100,
    end_mb: 90,
    duration_seconds: o.seconds ?? 60,
    warnings: 0,
    exit: { code: o.reason === 'oom' ? 134 : 0, signal: null, reason: o.reason ?? 'clean' },
    aborted: false,
    restarts: o.restarts ?? 0,
    captures: [],
    reports: [],
  };
}

/** A processes.jsonl line of a process of run `runId` that ended at `end`; without `heap`, an RSS-only one. */
export function processRecord(runId: string, end: number, role: string, rss: number, heap?: number) {
  return {
    ts: iso(end),
    run_id: runId,
    pid: 2000,
    ppid: 1000,
    role,
    argv: ['node', `${role}.js`],
    instrumented: heap === undefined ? 'rss-only' : 'probe',
    started_at: iso(end - 60_000),
    ended_at: iso(end),
    duration_seconds: 60,
    start_rss_mb: 30,
    peak_rss_mb: rss,
    end_rss_mb: rss - 5,
    ...(heap === undefined ? {} : { start_heap_mb: 5, peak_heap_mb: heap, end_heap_mb: heap - 1, heap_limit_mb: 512 }),
    warnings: 0,
    ended: 'exited',
  };
}

/** A `<capture>.summary.json` of a heap profile whose sites are all in /app/agent.js. */
export function profileSummaryRecord(file: string, sites: { fn: string; share: number; via?: string[] }[]) {
  return {
    kind: 'heapprofile',
    file,
    totalBytes: 1000,
    sampleCount: 10,
    sites: sites.map((s) => ({ functionName: s.fn, url: 'file:///app/agent.js', line: 3, column: 5, bytes: s.share * 1000, share: s.share, ...(s.via ? { via: s.via } : {}) })),
    functions: [],
    files: [],
  };
}

export const jsonl = (records: readonly unknown[]): string => records.map((r) => `${JSON.stringify(r)}\n`).join('');
