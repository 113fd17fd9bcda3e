// Issue 4's acceptance that holds without an inspector: RSS rules, alert lines, journal rotation.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openJournal } from '../src/supervisor/journal/journal.js';
import { fixture, isAlive, readJsonl, runCli, startCli, tempDir, untilProcess, waitFor } from './helpers/cli.js';

const FAST = ['--backoff', '10', '--min-free', '0', '--interval', '200'];

describe('RSS rules', () => {
  it('terminates an agent whose RSS grows outside the heap past --hard, classified limit', async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--no-probe', '--restart', 'never', '--warning', '150', '--critical', '300', '--hard', '450', '--', 'node', fixture('watch/buffers.cjs')], { cwd });
    // The supervisor ended the agent with SIGTERM, and ends as the agent did.
    expect(r.signal).toBe('SIGTERM');
    const state = path.join(cwd, '.cfn-supervise');
    const [run] = readJsonl(path.join(state, 'runs.jsonl'));
    expect(run!.exit).toMatchObject({ reason: 'limit', signal: 'SIGTERM' });
    expect(run!.aborted).toBe(true);
    expect(run!.peak_mb as number).toBeGreaterThanOrEqual(450);
    expect(run!.warnings as number).toBeGreaterThanOrEqual(3);
    const alerts = readJsonl(path.join(state, 'alerts.jsonl')).filter((a) => a.metric === 'rss');
    expect(alerts.map((a) => a.level)).toEqual(['warning', 'critical', 'hard']);
    for (const a of alerts) {
      expect(a).toMatchObject({ pid: run!.pid, role: 'agent', unit: 'MB' });
      expect(a.ts).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(a.value as number).toBeGreaterThanOrEqual(a.threshold as number);
      expect(a.system_memory).toEqual({ total_mb: expect.any(Number), available_mb: expect.any(Number), used_mb: expect.any(Number), percent: expect.any(Number) });
    }
    expect(r.stderr.toString()).toMatch(/\[hard\] agent \(pid \d+\): rss \d+ MB \(hard at 450\)/);
    expect(r.stderr.toString()).toMatch(/memory limit: rss over 450 MB; ending the run/);
  });

  it('restarts an agent ended by a memory rule under the default policy', async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--no-probe', '--quiet', '--max-restarts', '1', '--warning', '150', '--critical', '300', '--hard', '450', '--', 'node', fixture('watch/buffers.cjs')], { cwd });
    expect(r.stderr.toString()).toBe('');
    const runs = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(runs.map((x) => (x.exit as { reason: string }).reason)).toEqual(['limit', 'limit']);
    expect(r.signal).toBe('SIGTERM');
  });
});

describe('a subprocess over its hard limit', () => {
  it('is terminated alone and recorded as limit, while the agent runs on', async () => {
    const cwd = tempDir();
    const s = startCli([...FAST, '--no-probe', '--restart', 'never', '--warning', '150', '--critical', '300', '--hard', '450', '--', 'node', fixture('watch/buffers-child.cjs')], { cwd });
    await waitFor(() => /child \d+ ended by SIGTERM/.test(s.stdout().toString()), 30_000, 'the child to be terminated');
    const child = Number(/child (\d+)/.exec(s.stdout().toString())![1]);
    expect(isAlive(s.child.pid!)).toBe(true);
    s.child.kill('SIGTERM');
    await s.exited;
    const limit = readJsonl(path.join(cwd, '.cfn-supervise/alerts.jsonl')).find((a) => a.metric === 'limit');
    expect(limit).toMatchObject({ pid: child, level: 'hard', exit: { reason: 'limit' } });
    const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(run!.exit).toMatchObject({ reason: 'stopped' });
  });
});

describe('connections', () => {
  it('counts established TCP connections per process and alerts by level', async () => {
    const cwd = tempDir();
    const s = startCli([...FAST, '--no-probe', '--restart', 'never', '--conn-info', '4', '--conn-warning', '10', '--conn-critical', '40', '--', 'node', fixture('watch/connections.cjs')], { cwd });
    const alerts = () => {
      const f = path.join(cwd, '.cfn-supervise/alerts.jsonl');
      return existsSync(f) ? readJsonl(f).filter((a) => a.metric === 'sockets') : [];
    };
    await waitFor(() => alerts().some((a) => a.level === 'warning'), 40_000, 'the connections warning');
    // A count may come while the server has accepted only some of its six connections (a connection in the
    // accept queue is not yet one of its descriptors): the warning names 10 to 12, and the count reaches 12.
    const warning = alerts().find((a) => a.level === 'warning')!;
    expect(warning).toMatchObject({ level: 'warning', threshold: 10, unit: 'connections', role: 'agent' });
    expect(warning.value as number).toBeGreaterThanOrEqual(10);
    expect(warning.value as number).toBeLessThanOrEqual(12);
    await untilProcess(path.join(cwd, '.cfn-supervise'), (p) => p.role === 'agent' && p.sockets === 12, 40_000, 'a count of 12 connections');
    s.child.kill('SIGTERM');
    await s.exited;
  });
});

describe('journal rotation', () => {
  it('loses and splits no line across several rotations', async () => {
    const dir = tempDir();
    const j = openJournal({ logFile: path.join(dir, 'supervisor.log'), runsFile: path.join(dir, 'runs.jsonl'), alertsFile: path.join(dir, 'alerts.jsonl'), processesFile: path.join(dir, 'processes.jsonl'), journalSize: '16K' });
    const n = 3000;
    for (let i = 0; i < n; i++) j.alerts.info({ level: 'warning', seq: i, message: `alert number ${i}`, pad: 'x'.repeat(i % 97) });
    await j.close();
    // rotating-file-stream keeps its list of rotated files in <name>.txt.
    const files = readdirSync(dir).filter((f) => f.startsWith('alerts.jsonl') && !f.endsWith('.txt'));
    expect(files.length).toBeGreaterThan(5);
    const seqs: number[] = [];
    for (const f of files) {
      const raw = readFileSync(path.join(dir, f));
      const text = f.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
      for (const line of text.split('\n').filter(Boolean)) seqs.push((JSON.parse(line) as { seq: number }).seq);
    }
    // Only the newest files are kept (maxFiles), so what remains must be a contiguous, complete tail.
    seqs.sort((a, b) => a - b);
    expect(seqs.at(-1)).toBe(n - 1);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
  });
});
