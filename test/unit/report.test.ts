// The report's aggregation on journal lines: per day, per role, culprits, recommendations.
import { describe, expect, it } from 'vitest';
import { ReportBuilder, TREE_ROLE } from '../../src/report/aggregate.js';
import { recommend } from '../../src/report/recommend.js';
import { alertLine, processLine, profileSummary, runLine } from '../../src/report/records.js';
import { processRecord as proc, profileSummaryRecord as summary, runRecord as run } from '../report/lines.js';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');
const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();

function builder(): ReportBuilder {
  return new ReportBuilder(T0 - 7 * 24 * 60 * MIN, T0 + 3 * 24 * 60 * MIN);
}

describe('journal lines', () => {
  it('are read as the supervisor writes them', () => {
    expect(runLine(run(T0, { id: 'a', reason: 'oom', restarts: 2, seconds: 12.5, peak: 300 }))).toEqual({
      t: T0,
      runId: 'a',
      durationSeconds: 12.5,
      peakMb: 300,
      reason: 'oom',
      restarts: 2,
    });
    expect(processLine(proc('a', T0, 'agent', 120, 80))).toEqual({ t: T0, runId: 'a', role: 'agent', peakRssMb: 120, peakHeapMb: 80, heapLimitMb: 512 });
    expect(processLine(proc('a', T0, 'sh', 3))).toEqual({ t: T0, runId: 'a', role: 'sh', peakRssMb: 3 });
  });

  it.each([
    ['a run without exit', { ...run(T0), exit: undefined }],
    ['a run without a time', { ...run(T0), ts: 'yesterday' }],
    ['a run whose peak is a string', { ...run(T0), peak_mb: '100' }],
    ['a list', [1, 2]],
    ['null', null],
  ])('rejects %s', (_, raw) => {
    expect(runLine(raw)).toBeUndefined();
  });

  it('rejects processes without a role and summaries that are not profiles', () => {
    expect(processLine({ ...proc('a', T0, 'agent', 1), role: '' })).toBeUndefined();
    expect(profileSummary({ kind: 'heapsnapshot', topRetained: [] })).toBeUndefined();
    expect(profileSummary({ ...summary('x', []), sites: [{ functionName: 1 }] })).toBeUndefined();
  });

  it('read an analysed capture alert with its top sites', () => {
    const line = { ts: iso(T0), level: 'info', metric: 'capture', pid: 7, file: '/c/x.heapprofile', summary: '/c/x.heapprofile.summary.json', top_sites: [{ site: 'leak file:///a.js:1:1 via repeat', bytes: 10, share: 0.7 }] };
    expect(alertLine(line)).toEqual({ t: T0, level: 'info', metric: 'capture', file: '/c/x.heapprofile', topSites: [{ site: 'leak file:///a.js:1:1 via repeat', share: 0.7 }] });
  });
});

describe('runs per day', () => {
  it('counts runs, restarts, OOMs, limit kills and crashes per UTC day, with uptime and availability', () => {
    const b = builder();
    // Day 1: a run that OOMs, restarted after 30 s of backoff, which crashes, restarted after 10 s, which ends clean.
    const lines = [
      run(T0, { reason: 'oom', seconds: 600 }),
      run(T0 + 30_000 + 300_000, { reason: 'crash', restarts: 1, seconds: 300 }),
      run(T0 + 340_000 + 100_000, { reason: 'clean', restarts: 2, seconds: 100 }),
      // Day 2: a new supervisor (restarts back to 0); its first run is no restart, the gap before it no downtime.
      run(T0 + 24 * 60 * MIN, { reason: 'limit', seconds: 50 }),
      run(T0 + 24 * 60 * MIN + 60_000, { reason: 'stopped', restarts: 1, seconds: 50 }),
    ];
    for (const l of lines) b.addRun(runLine(l)!);
    const r = b.build();
    expect(r.days.map((d) => [d.date, d.runs, d.restarts, d.oom, d.limit, d.crash, d.uptimeSeconds, d.downtimeSeconds])).toEqual([
      ['2026-11-28', 3, 2, 1, 0, 1, 1000, 40],
      ['2026-11-29', 2, 1, 0, 1, 0, 100, 10],
    ]);
    expect(r.days[0]!.availability).toBeCloseTo(1000 / 1040, 4);
    expect(r.days[1]!.availability).toBeCloseTo(100 / 110, 4);
    expect(r.totals).toMatchObject({ runs: 5, restarts: 3, oom: 1, limit: 1, crash: 1, uptimeSeconds: 1100, downtimeSeconds: 50 });
    expect(r.totals.reasons).toEqual({ oom: 1, crash: 1, clean: 1, limit: 1, stopped: 1 });
    expect(r.totals.availability).toBeCloseTo(1100 / 1150, 4);
  });

  it('counts alerts per level and day, leaving capture analyses out', () => {
    const b = builder();
    for (const level of ['warning', 'warning', 'critical']) b.addAlert(alertLine({ ts: iso(T0), level, metric: 'rss' })!);
    b.addAlert(alertLine({ ts: iso(T0), level: 'info', metric: 'capture' })!);
    expect(b.build().days).toMatchObject([{ date: '2026-11-28', runs: 0, alerts: { warning: 2, critical: 1 }, availability: null }]);
  });
});

describe('roles', () => {
  it('gives count and nearest-rank percentiles of peak RSS and heap per role, and the whole tree per run', () => {
    const b = builder();
    for (let i = 0; i < 20; i++) {
      const id = `run-${i}`;
      b.addRun(runLine(run(T0 + i * MIN, { id, peak: 200 + i }))!);
      b.addProcess(processLine(proc(id, T0 + i * MIN, 'agent', 101 + i, 51 + i))!);
      b.addProcess(processLine(proc(id, T0 + i * MIN, 'sh', 3))!);
    }
    const r = b.build();
    expect(r.roles.map((x) => [x.role, x.source, x.count, x.runs])).toEqual([
      [TREE_ROLE, 'runs', 20, 20],
      ['agent', 'processes', 20, 20],
      ['sh', 'processes', 20, 20],
    ]);
    const agent = r.roles[1]!;
    expect(agent.rssMb).toEqual({ n: 20, p50: 110, p95: 119, p99: 120, max: 120 });
    expect(agent.heapMb).toEqual({ n: 20, p50: 60, p95: 69, p99: 70, max: 70 });
    expect(r.roles[2]!.heapMb).toBeNull();
    expect(r.roles[0]!.rssMb).toEqual({ n: 20, p50: 209, p95: 218, p99: 219, max: 219 });
    expect(agent.series[0]).toEqual({ t: iso(T0), rssMb: 101, heapMb: 51 });
  });

  it('takes each run’s peak of a role, flags the role whose peak rises across runs and not the one that plateaus', () => {
    const b = builder();
    const plateau = [150, 190, 200, 199, 200, 201];
    for (let i = 0; i < 6; i++) {
      const id = `run-${i}`;
      const t = T0 + i * 10 * MIN;
      b.addRun(runLine(run(t, { id }))!);
      // Two worker processes per run: the run's peak is the larger.
      b.addProcess(processLine(proc(id, t - MIN, 'node:worker.js', 80 + 20 * i, 40 + 15 * i))!);
      b.addProcess(processLine(proc(id, t, 'node:worker.js', 60, 30))!);
      b.addProcess(processLine(proc(id, t, 'node:cache.js', plateau[i]! + 40, plateau[i]))!);
    }
    const roles = Object.fromEntries(b.build().roles.map((x) => [x.role, x]));
    expect(roles['node:worker.js']!.growth).toMatchObject({ metric: 'heap', runs: 6, firstMb: 40, lastMb: 115, leak: true });
    expect(roles['node:worker.js']!.growth!.slopeMbPerRun).toBeCloseTo(15, 5);
    expect(roles['node:cache.js']!.growth).toMatchObject({ metric: 'heap', runs: 6, leak: false });
  });

  it('fits RSS when some run of the role has no heap reading', () => {
    const b = builder();
    for (let i = 0; i < 5; i++) b.addProcess(processLine(proc(`r${i}`, T0 + i * MIN, 'agent', 100 + 30 * i, i === 2 ? undefined : 50))!);
    expect(b.build().roles.map((x) => x.role)).toEqual(['agent']);
    expect(b.build().roles[0]!.growth).toMatchObject({ metric: 'rss', firstMb: 100, lastMb: 220, leak: true });
  });
});

describe('culprits', () => {
  it('ranks sites by how often each was the top one, merging their builtins', () => {
    const b = builder();
    b.addCapture({ t: T0, summary: profileSummary(summary('/c/1.heapprofile', [{ fn: 'leak', share: 0.6, via: ['repeat'] }, { fn: 'tidy', share: 0.2 }]))! });
    b.addCapture({ t: T0 + MIN, summary: profileSummary(summary('/c/2.heapprofile', [{ fn: 'leak', share: 0.8, via: ['push'] }, { fn: 'tidy', share: 0.1 }]))! });
    b.addCapture({ t: T0 + 2 * MIN, summary: profileSummary(summary('/c/3.heapprofile', [{ fn: 'tidy', share: 0.5 }, { fn: 'leak', share: 0.4 }]))! });
    const c = b.build().culprits;
    expect(c.captures).toBe(3);
    expect(c.sites).toEqual([
      { site: 'leak file:///app/agent.js:3:5', via: ['repeat', 'push'], timesTop: 2, appearances: 3, maxShare: 0.8, lastSeen: iso(T0 + 2 * MIN) },
      { site: 'tidy file:///app/agent.js:3:5', via: [], timesTop: 1, appearances: 3, maxShare: 0.5, lastSeen: iso(T0 + 2 * MIN) },
    ]);
  });

  it('falls back on the top sites an alert carried when the summary file is gone, without counting a capture twice', () => {
    const b = builder();
    const alert = (file: string, site: string) =>
      alertLine({ ts: iso(T0), level: 'info', metric: 'capture', file, summary: `${file}.summary.json`, top_sites: [{ site, bytes: 1, share: 0.9 }] })!;
    b.addAlert(alert('/c/1.heapprofile', 'leak file:///app/agent.js:3:5 via repeat'));
    b.addAlert(alert('/elsewhere/2.heapprofile', 'leak file:///app/agent.js:3:5 via repeat, push'));
    b.addCapture({ t: T0, summary: profileSummary(summary('/c/1.heapprofile', [{ fn: 'leak', share: 0.6, via: ['repeat'] }]))! });
    const c = b.build().culprits;
    expect(b.build().culprits).toEqual(c);
    expect(c.captures).toBe(2);
    expect(c.sites).toEqual([{ site: 'leak file:///app/agent.js:3:5', via: ['repeat', 'push'], timesTop: 2, appearances: 2, maxShare: 0.9, lastSeen: iso(T0) }]);
  });
});

describe('recommendations', () => {
  const p = (n: number, p95: number, p99: number, max: number) => ({ n, p50: p95 / 2, p95, p99, max });

  it('come from the percentiles: warning p95 + 25 %, critical p99 + 25 %, hard max + 50 %, heap limit over the peak heap', () => {
    const r = recommend({ processRecords: 40, processRss: p(40, 160, 200, 230), processHeap: p(40, 90, 110, 120), treeRss: p(20, 400, 480, 500), heapLimitMb: 4096, runs: 20, memoryEndedRuns: 0, leakingRoles: [] });
    expect(r.items.map((i) => [i.flag, i.valueMb])).toEqual([
      ['--warning', 200],
      ['--critical', 256],
      ['--hard', 352],
      ['--tree-warning', 504],
      ['--tree-critical', 600],
      ['--tree-hard', 752],
      ['--heap-limit', 176],
    ]);
    expect(r.items[0]!.evidence).toBe('peak RSS per process: p95 160 MB, p99 200 MB, max 230 MB over 40; p95 + 25 %');
    expect(r.items[6]!.evidence).toMatch(/max 120 MB over 40; they ran with 4096 MB/);
    expect(r.flags).toBe('--warning 200 --critical 256 --hard 352 --tree-warning 504 --tree-critical 600 --tree-hard 752 --heap-limit 176');
    expect(r.config.split('\n')).toEqual(['warning: 200', 'critical: 256', 'hard: 352', 'tree-warning: 504', 'tree-critical: 600', 'tree-hard: 752', 'heap-limit: 176']);
    expect(r.notes).toEqual([]);
  });

  it('keep the levels of a rule rising when the percentiles coincide', () => {
    const r = recommend({ processRecords: 5, processRss: p(5, 50, 50, 50), processHeap: null, treeRss: null, runs: 5, memoryEndedRuns: 0, leakingRoles: [] });
    expect(r.items.map((i) => i.valueMb)).toEqual([64, 72, 80]);
  });

  it('say when there is too little data, and why OOM runs are left out', () => {
    const r = recommend({ processRecords: 3, processRss: p(3, 50, 50, 50), processHeap: null, treeRss: p(1, 60, 60, 60), runs: 4, memoryEndedRuns: 3, leakingRoles: [] });
    expect(r.items).toEqual([]);
    expect(r.flags).toBe('');
    expect(r.notes).toEqual([
      expect.stringMatching(/^3 of 4 runs ended in an OOM or a memory-rule kill and are left out/),
      'too little data for --warning/--critical/--hard (peak RSS per process): 3 observed, 5 needed',
      'too little data for --tree-warning/--tree-critical/--tree-hard (runs): 1 observed, 5 needed',
      'too little data for --heap-limit (peak heap per process): 0 observed, 5 needed',
    ]);
  });

  it('warn that thresholds from a role that leaks across runs will be outgrown', () => {
    const r = recommend({ processRecords: 10, processRss: p(10, 100, 120, 130), processHeap: null, treeRss: null, runs: 10, memoryEndedRuns: 0, leakingRoles: ['agent'] });
    expect(r.items.length).toBeGreaterThan(0);
    expect(r.notes[0]).toMatch(/^agent leaks across runs: thresholds from past peaks will be crossed/);
  });

  it('fall back on the whole tree when no process was recorded', () => {
    const r = recommend({ processRecords: 0, processRss: null, processHeap: null, treeRss: p(10, 100, 120, 130), runs: 10, memoryEndedRuns: 0, leakingRoles: [] });
    expect(r.items[0]).toMatchObject({ flag: '--warning', valueMb: 128, evidence: expect.stringMatching(/no processes\.jsonl: an upper bound per process/) });
  });

  it('leave the runs that memory ended out of the percentiles the builder passes on', () => {
    const b = builder();
    for (let i = 0; i < 6; i++) {
      const id = `run-${i}`;
      const oom = i % 2 === 1;
      b.addRun(runLine(run(T0 + i * MIN, { id, reason: oom ? 'oom' : 'clean', peak: oom ? 1000 : 100 }))!);
      b.addProcess(processLine(proc(id, T0 + i * MIN, 'agent', oom ? 900 : 80, oom ? 500 : 40))!);
      b.addProcess(processLine(proc(id, T0 + i * MIN, 'sh', 4))!);
    }
    const rec = b.build().recommendations;
    // Healthy: agent 80 ×3 and sh 4 ×3; p95 and p99 are 80, max 80.
    expect(rec.items.find((i) => i.flag === '--warning')).toMatchObject({ valueMb: 104, evidence: 'peak RSS per process: p95 80 MB, p99 80 MB, max 80 MB over 6; p95 + 25 %' });
    expect(rec.notes[0]).toMatch(/^3 of 6 runs ended in an OOM/);
  });
});
