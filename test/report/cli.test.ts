// `cfn-supervise report` on journals written by real supervised runs of the built CLI: OOMs and restarts, clean
// restarts, a leak caught with a profile. Its numbers must be the journals' numbers.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FullReport } from '../../src/report/index.js';
import { fixture, readJsonl, runCli } from '../helpers/cli.js';
import { TempDirs, report } from './command.js';

const temp = new TempDirs('file');
let state: string;
let runs: Record<string, any>[];
let alerts: Record<string, any>[];
let processes: Record<string, any>[];
let json: FullReport;

/** Nearest rank, computed here without the report's histogram. */
const nearestRank = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
};
const roundUp8 = (mb: number) => Math.max(8, Math.ceil(mb / 8) * 8);

/** Runs the supervisor to its end; it exits with the agent's status, as a code or by the agent's signal. */
async function supervise(args: string[], expectedStatus: number): Promise<void> {
  const r = await runCli(['--state-dir', state, '--min-free', '0', '--backoff', '10', ...args], { cwd: path.dirname(state) });
  const status = r.code ?? 128 + constants.signals[r.signal!];
  expect(status, r.stderr.toString()).toBe(expectedStatus);
}

beforeAll(async () => {
  state = path.join(temp.make(), 'state');
  // Three OOMs: the first run and its two restarts.
  await supervise(['--heap-limit', '64', '--max-restarts', '2', '--restart', 'on-oom', '--', 'node', fixture('lifecycle/oom.cjs')], 134);
  // Five clean runs: restarted on every exit until --max-restarts gives up, with the clean run's code.
  await supervise(['--interval', '200', '--min-uptime', '100', '--restart', 'always', '--max-restarts', '4', '--', 'node', '-e', 'const a = []; for (let i = 0; i < 2e5; i++) a.push({ i }); setTimeout(() => {}, 800);'], 0);
  // A leak the probe catches with a profile, analysed into a summary, before its OOM.
  await supervise(['--heap-limit', '256', '--restart', 'never', '--', 'node', fixture('watch/fast-leak.cjs')], 134);
  runs = readJsonl(path.join(state, 'runs.jsonl'));
  alerts = readJsonl(path.join(state, 'alerts.jsonl'));
  const processesFile = path.join(state, 'processes.jsonl');
  processes = existsSync(processesFile) ? readJsonl(processesFile) : [];
  const r = await report(state, { json: true });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  json = JSON.parse(r.stdout) as FullReport;
}, 240_000);


describe('report --json on real journals', () => {
  it('counts the runs, restarts, OOMs and uptime of the journal', () => {
    const reasons = runs.map((r) => r.exit.reason as string);
    expect(reasons.filter((x) => x === 'oom').length).toBe(4);
    expect(reasons.filter((x) => x === 'clean').length).toBe(5);
    const uptime = runs.reduce((s, r) => s + (r.duration_seconds as number), 0);
    expect(json.totals).toMatchObject({
      runs: runs.length,
      restarts: runs.filter((r) => r.restarts > 0).length,
      oom: 4,
      limit: 0,
      crash: 0,
      reasons: { oom: 4, clean: 5 },
    });
    expect(json.totals.uptimeSeconds).toBeCloseTo(uptime, 3);
    const days = [...new Set(runs.map((r) => (r.ts as string).slice(0, 10)))];
    expect(json.days.map((d) => d.date)).toEqual(days);
    expect(json.days.reduce((s, d) => s + d.runs, 0)).toBe(runs.length);
  });

  it('computes availability from the gaps between a run and its restart', () => {
    let down = 0;
    runs.forEach((r, i) => {
      const prev = runs[i - 1];
      if (prev && r.restarts > prev.restarts) down += (Date.parse(r.ts) - r.duration_seconds * 1000 - Date.parse(prev.ts)) / 1000;
    });
    expect(json.totals.downtimeSeconds).toBeCloseTo(down, 2);
    expect(json.totals.availability).toBeCloseTo(json.totals.uptimeSeconds / (json.totals.uptimeSeconds + down), 3);
  });

  it('gives the whole tree per run the journal’s peaks, and each recorded role its processes', () => {
    const peaks = runs.map((r) => r.peak_mb as number);
    const tree = json.roles.find((r) => r.role === 'run (whole tree)')!;
    expect(tree).toMatchObject({ source: 'runs', count: runs.length, runs: runs.length });
    expect(tree.rssMb).toEqual({ n: peaks.length, p50: nearestRank(peaks, 50), p95: nearestRank(peaks, 95), p99: nearestRank(peaks, 99), max: Math.max(...peaks) });
    expect(tree.series.map((p) => p.rssMb)).toEqual(peaks);
    // processes.jsonl, where this build writes it: one role per role of its lines, with their counts and peaks.
    const roles = new Map<string, number[]>();
    for (const p of processes) roles.set(p.role, [...(roles.get(p.role) ?? []), p.peak_rss_mb]);
    expect(json.roles.filter((r) => r.source === 'processes').map((r) => [r.role, r.count, r.rssMb?.max]).sort()).toEqual(
      [...roles].map(([role, values]) => [role, values.length, Math.max(...values)]).sort(),
    );
  });

  it('counts the alerts of the journal per level', () => {
    const levels: Record<string, number> = {};
    for (const a of alerts.filter((x) => x.metric !== 'capture')) levels[a.level] = (levels[a.level] ?? 0) + 1;
    expect(levels.warning).toBeGreaterThanOrEqual(1);
    expect(json.totals.alerts).toEqual(levels);
  });

  it('names the leak among the culprits, from the capture summaries', () => {
    const summaries = readdirSync(path.join(state, 'captures')).filter((f) => f.endsWith('.summary.json'));
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(json.culprits.captures).toBe(summaries.length);
    expect(json.culprits.sites[0]).toMatchObject({ site: expect.stringMatching(/^leakFast .*fast-leak\.cjs:\d+:\d+$/), timesTop: summaries.length });
  });

  it('recommends thresholds from the percentiles of the runs memory did not end', () => {
    const healthy = runs.filter((r) => !['oom', 'limit'].includes(r.exit.reason)).map((r) => r.peak_mb as number);
    const treeWarning = json.recommendations.items.find((i) => i.flag === '--tree-warning')!;
    expect(treeWarning.valueMb).toBe(roundUp8(nearestRank(healthy, 95) * 1.25));
    expect(treeWarning.evidence).toContain(`p95 ${nearestRank(healthy, 95)} MB, p99 ${nearestRank(healthy, 99)} MB, max ${Math.max(...healthy)} MB over ${healthy.length}`);
    expect(json.recommendations.notes[0]).toMatch(/^4 of 9 runs ended in an OOM or a memory-rule kill and are left out/);
    const perProcess = processes.length ? processes.filter((p) => healthy.length && !['oom', 'limit'].includes(runs.find((r) => r.run_id === p.run_id)?.exit.reason)).map((p) => p.peak_rss_mb as number) : healthy;
    const warning = json.recommendations.items.find((i) => i.flag === '--warning');
    if (perProcess.length >= 5) expect(warning?.valueMb).toBe(roundUp8(nearestRank(perProcess, 95) * 1.25));
    else expect(json.recommendations.notes.join('\n')).toMatch(/too little data for --warning/);
  });

  it('reads every line of the journals', () => {
    expect(json.sources.journals['runs.jsonl']).toEqual({ files: 1, lines: runs.length, skipped: 0, unreadable: [] });
    expect(json.sources.journals['alerts.jsonl']).toMatchObject({ lines: alerts.length, skipped: 0 });
  });
});

describe('report on rotated and torn journals', () => {
  it('reads rotated files, gzip ones too, and skips a torn line with a count, with the same numbers', async () => {
    const file = path.join(state, 'runs.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const rotated = temp.stateDir({
      'runs.jsonl.20260101-000000.000': gzipSync(`${lines.slice(0, 3).join('\n')}\n`),
      'runs.jsonl.20260101-000000.000-2': `${lines.slice(3, 6).join('\n')}\n`,
      // A supervisor killed mid-write leaves half a line; the next one starts on a fresh line.
      'runs.jsonl': `${lines.slice(6).join('\n')}\n{"ts":"2026-`,
    });
    const r = await report(rotated, { json: true });
    expect(r.code, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout) as FullReport;
    // Only runs.jsonl here: alerts and member deaths come from the other journals.
    expect(again.totals).toEqual({ ...json.totals, alerts: {}, members: {} });
    expect(again.sources.journals['runs.jsonl']).toEqual({ files: 3, lines: runs.length + 1, skipped: 1, unreadable: [] });
  });
});

describe('report for people and browsers', () => {
  it('prints the same numbers as text', async () => {
    const r = await report(state);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^  total\\s+${json.totals.runs}\\s+${json.totals.restarts}\\s+4\\s+0\\s+0\\s`, 'm'));
    expect(r.stdout).toMatch(/^ {2}run \(whole tree\)\s+9\s+9\s/m);
    expect(r.stdout).toMatch(/^\s+1\s+\d+\s+\d+\s+[\d.]+ %\s+leakFast /m);
    expect(r.stdout).toMatch(/^Recommended thresholds$/m);
  });

  it('prints a config snippet that cfn-supervise config takes as it is', async () => {
    const rec = json.recommendations;
    expect(rec.items.length).toBeGreaterThan(0);
    const file = path.join(temp.make(), 'recommended.yaml');
    writeFileSync(file, `${rec.config}\n`);
    const r = await runCli(['config', '--config', file], { cwd: path.dirname(file) });
    expect(r.code, r.stderr.toString()).toBe(0);
    for (const item of rec.items) expect(r.stdout.toString()).toMatch(new RegExp(`^${item.flag.slice(2)}\\s+${item.valueMb}\\s+\\(file, `, 'm'));
  });

  it('writes the page owner-only and says where', async () => {
    const file = path.join(temp.make(), 'week.html');
    const r = await report(state, { html: file, since: '24h' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`cfn-supervise report: HTML written to ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^<!doctype html>[\s\S]*<svg class="chart" data-chart="days"[\s\S]*<\/html>\n$/);
  });
});

describe('report errors', () => {
  const oneLine = (r: { code: number; stdout: string; stderr: string }, code: number, message: RegExp) => {
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cfn-supervise report: /);
    expect(r.stderr.trimEnd()).toMatch(message);
  };

  it('exits 2 with one line for a missing state dir', async () => {
    oneLine(await report(path.join(temp.make(), 'nothing-here')), 2, /no state dir at \S+nothing-here; give the one the supervisor ran with \(--state-dir\)$/);
  });

  it('exits 2 with one line for a state dir that is a file', async () => {
    const file = path.join(temp.make(), 'file');
    writeFileSync(file, '');
    oneLine(await report(file), 2, /is not a folder/);
  });

  it.each(['7x', 'last week', '2026-02-30x'])('exits 2 with one line for --since %s', async (since) => {
    oneLine(await report(state, { since }), 2, /--since expects an age like 7d, 24h or 30m, or a date like 2026-11-01/);
  });

  it('exits 1 with one line when the page cannot be written, and leaves nothing behind', async () => {
    const dir = temp.make();
    oneLine(await report(state, { html: path.join(dir, 'missing', 'r.html') }), 1, /cannot write \S+r\.html: no such folder$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports an empty period without failing', async () => {
    const empty = temp.stateDir({});
    const r = await report(empty, { json: true });
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as FullReport;
    expect(e).toMatchObject({ days: [], roles: [], culprits: { captures: 0, sites: [] }, totals: { runs: 0, availability: null } });
    const text = await report(empty);
    expect(text.stdout).toContain('(no runs or alerts in the period)');
  });
});
