// monitor, capture and gc over the inspector port, run as their own processes (the driver fixture calls the
// built commands) against unsupervised node processes, as `cfn-supervise monitor --pid N` will.
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../analysis/dist.js';
import { isAlive, tempDir, waitFor } from '../helpers/cli.js';
import { Tmux } from '../helpers/tmux.js';
import { DRIVER, driver, listeningPorts, start, target } from './helpers.js';

interface MonitorJson {
  pid: number;
  role: string;
  ended: string;
  samples: number;
  rss_mb: { start: number; peak: number; end: number };
  heap_mb: { start: number; peak: number; end: number; limit: number };
  trend: { mb_per_min: number; oom_in_min?: number; confidence: number } | null;
  verdict: string;
  capture?: string;
  inspector: string;
}

afterAll(() => api.closeSharedAnalysisPool());

const topSite = async (file: string) => api.topSites((await api.analyzeFile(file)), 1)[0]?.site;

describe('monitor --pid over the inspector port', () => {
  it('reports the growth of a leaking process over 20 s, saves one profile naming the leak, and leaves no port', async () => {
    const t = await target('leak.cjs');
    const capturesDir = path.join(tempDir('cfn-monitor-'), 'captures');
    const m = driver('monitor', { pid: t.pid, durationMs: 20_000, intervalMs: 1000, json: true, captureOnGrowth: true, capturesDir });
    expect(await m.exited).toEqual({ code: 0, signal: null });
    const r = JSON.parse(m.stdout()) as MonitorJson;
    expect(r).toMatchObject({ pid: t.pid, role: 'node:leak.cjs', ended: 'duration', inspector: 'closed' });
    expect(r.samples).toBeGreaterThanOrEqual(15);
    expect(r.verdict).toBe('leaking');
    expect(r.trend!.mb_per_min).toBeGreaterThan(0);
    expect(r.heap_mb.end).toBeGreaterThan(r.heap_mb.start);
    expect(r.heap_mb.peak).toBeGreaterThanOrEqual(r.heap_mb.end);
    expect(r.rss_mb.peak).toBeGreaterThan(r.rss_mb.start);
    // --json: nothing but the JSON, nothing on stderr.
    expect(m.stderr()).toBe('');
    expect(path.basename(r.capture!)).toMatch(new RegExp(`-${t.pid}-monitor-growth\\.heapprofile$`));
    expect(statSync(r.capture!).mode & 0o777).toBe(0o600);
    expect(await topSite(r.capture!)).toMatch(/^growTheLeak /);
    expect(listeningPorts(t.pid)).toEqual([]);
  });

  it('Ctrl-C prints the summary so far, detaches and exits 130', async () => {
    const t = await target('leak.cjs');
    const m = driver('monitor', { pid: t.pid, durationMs: 300_000, intervalMs: 500, json: false, captureOnGrowth: false, capturesDir: tempDir() });
    // Not a terminal: a plain line per sample.
    await waitFor(() => m.stdout().split('\n').filter((l) => /^\s+\d+s\s+rss \d/.test(l)).length >= 3, 30_000, 'three samples');
    m.child.kill('SIGINT');
    expect(await m.exited).toEqual({ code: 130, signal: null });
    expect(m.stdout()).toMatch(new RegExp(`^pid ${t.pid} \\(node:leak\\.cjs\\): \\d+ samples over \\d+s$`, 'm'));
    expect(m.stdout()).toMatch(/^heap {5}start [\d.]+ MB, peak [\d.]+ MB, end [\d.]+ MB, limit \d+ MB$/m);
    expect(m.stdout()).toMatch(/^verdict {2}(stable|growing|leaking|unknown)$/m);
    expect(listeningPorts(t.pid)).toEqual([]);
    expect(isAlive(t.pid)).toBe(true);
  });

  it('on a terminal: one live line redrawn in place, and Ctrl-C there ends it with the summary', async () => {
    const t = await target('leak.cjs');
    const term = new Tmux('monitor');
    try {
      term.start('exec bash --norc --noprofile -i', { PS1: '$ ' });
      const options = { pid: t.pid, durationMs: 300_000, intervalMs: 500, json: false, captureOnGrowth: false, capturesDir: tempDir() };
      term.send(`${process.execPath} ${DRIVER} monitor '${JSON.stringify(options)}'; echo "exited $?"`, 'Enter');
      const samples = (screen: string) => screen.split('\n').filter((l) => /^\s+\d+s\s+rss \d/.test(l));
      await waitFor(() => /^\s+[3-9]s\s+rss/m.test(term.screen()), 30_000, 'a few seconds of samples');
      expect(samples(term.screen())).toHaveLength(1);
      term.send('C-c');
      await waitFor(() => term.screen().includes('exited 130'), 30_000, 'the monitor to end');
      const screen = term.screen();
      expect(samples(screen)).toHaveLength(1);
      expect(screen).toMatch(/^verdict {2}\w+$/m);
      expect(listeningPorts(t.pid)).toEqual([]);
    } finally {
      term.kill();
    }
  });

  it('ends with the summary and a note when the process exits, which is never held up at its exit', async () => {
    const t = await target('leak.cjs', ['4000']);
    const m = driver('monitor', { pid: t.pid, durationMs: 300_000, intervalMs: 500, json: false, captureOnGrowth: true, capturesDir: tempDir() });
    expect(await t.exited).toEqual({ code: 0, signal: null });
    expect(await m.exited).toEqual({ code: 0, signal: null });
    expect(m.stderr()).toMatch(new RegExp(`^cfn-supervise: pid ${t.pid} exited after \\d+s$`, 'm'));
    expect(m.stdout()).toMatch(/^verdict {2}/m);
  });
});

describe('capture --pid and gc --pid without a supervisor', () => {
  it('profiles the leak, streams a snapshot and collects garbage, closing the inspector after each', async () => {
    const t = await target('leak.cjs');
    const capturesDir = path.join(tempDir('cfn-capture-'), 'captures');

    const profile = driver('capture', { pid: t.pid, kind: 'profile', seconds: 3, capturesDir, json: false });
    expect(await profile.exited).toEqual({ code: 0, signal: null });
    const profileFile = profile.stdout().trim();
    expect(path.basename(profileFile)).toMatch(new RegExp(`-${t.pid}-manual\\.heapprofile$`));
    expect(await topSite(profileFile)).toMatch(/^growTheLeak .*leak\.cjs:\d+:\d+( via [\w, ]+)?$/);
    expect(listeningPorts(t.pid)).toEqual([]);

    const snapshot = driver('capture', { pid: t.pid, kind: 'snapshot', capturesDir, json: true });
    expect(await snapshot.exited).toEqual({ code: 0, signal: null });
    const result = JSON.parse(snapshot.stdout()) as { file: string; pid: number; kind: string; bytes: number };
    expect(result).toMatchObject({ pid: t.pid, kind: 'heapsnapshot' });
    expect(statSync(result.file).size).toBe(result.bytes);
    expect(statSync(result.file).mode & 0o777).toBe(0o600);
    expect(listeningPorts(t.pid)).toEqual([]);

    const gc = driver('gc', { pid: t.pid, json: false });
    expect(await gc.exited).toEqual({ code: 0, signal: null });
    expect(gc.stdout()).toMatch(new RegExp(`^${t.pid} \\(node:leak\\.cjs\\): heap [\\d.]+ MB -> [\\d.]+ MB, freed [\\d.]+ MB\\n$`));
    expect(listeningPorts(t.pid)).toEqual([]);
  });

  it('refuses a process that is not node in one line, exit 4, without signalling it', async () => {
    const sleeper = start('sleep', ['60']);
    const gc = driver('gc', { pid: sleeper.pid, json: false });
    expect(await gc.exited).toEqual({ code: 4, signal: null });
    expect(gc.stdout()).toBe('');
    expect(gc.stderr()).toMatch(new RegExp(`^cfn-supervise: pid ${sleeper.pid}: sleep is not a node process \\(it runs \\S+\\)\\n$`));
    expect(isAlive(sleeper.pid)).toBe(true);
  });
});
