// Acceptance on real captures of known leaks: the leaking site or constructor ranks first, through the pool.
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfileDiff, ProfileSummary, SnapshotDiff, SnapshotSummary } from '../../src/analysis/index.js';
import { type Captures, type Scenario, capture, heapProf, removeTempDirs, tempDir } from './captures.js';
import { api } from './dist.js';

type Known = Exclude<Scenario, 'strings'>;

const expected: Record<Known, { site: string; constructor: string; retainedVia: string }> = {
  closures: { site: 'leakClosures', constructor: '(closure)', retainedVia: '.handlers' },
  map: { site: 'leakSessions', constructor: 'UserSession', retainedVia: '.sessions' },
  listeners: { site: 'leakListeners', constructor: 'RequestContext', retainedVia: '.tick' },
};

const captures = {} as Record<Known, Captures>;
// Objects each leak makes. Enough for the leak to outweigh node's own heap: from Node 24 on, the sources of node's
// built-in modules are strings in the heap (~1.7 MB), more than 30,000 closures (~1.9 MB) by themselves.
const LEAKED = 60_000;

beforeAll(async () => {
  for (const scenario of Object.keys(expected) as Known[]) captures[scenario] = await capture(scenario, LEAKED);
}, 120_000);

afterAll(async () => {
  await api.closeSharedAnalysisPool();
  removeTempDirs();
});

describe.each(Object.keys(expected) as Known[])('leak: %s', (scenario) => {
  const want = expected[scenario];

  it('heap profile: the leaking function is the top allocation site', async () => {
    const s = (await api.analyzeFile(captures[scenario].after.profile)) as ProfileSummary;
    expect(s.kind).toBe('heapprofile');
    expect(s.sites[0]).toMatchObject({ functionName: want.site, url: expect.stringMatching(/leaky\.mjs$/) });
    expect(s.sites[0]!.share).toBeGreaterThan(0.5);
    expect(s.functions[0]?.functionName).toBe(want.site);
    expect(s.files[0]?.url).toMatch(/leaky\.mjs$/);
  });

  it('heap profile diff: the leaking function grew most', async () => {
    const d = (await api.diffFiles(captures[scenario].before.profile, captures[scenario].after.profile)) as ProfileDiff;
    expect(d.kind).toBe('heapprofile-diff');
    expect(d.grew[0]?.functionName).toBe(want.site);
    expect(d.totalBytes.delta).toBeGreaterThan(0);
  });

  it('heap snapshot: the leaking constructor leads, and the largest retainer is the leaking collection', async () => {
    const s = (await api.analyzeFile(captures[scenario].after.snapshot)) as SnapshotSummary;
    expect(s.kind).toBe('heapsnapshot');
    expect(s.constructors[0]?.name).toBe(want.constructor);
    expect(s.constructors[0]?.count).toBeGreaterThanOrEqual(LEAKED);
    const top = s.topRetained[0]!;
    expect(top.path?.steps.map((step) => step.edge)).toContain(want.retainedVia);
    expect(top.share).toBeGreaterThan(0.3);
  });

  it('heap snapshot diff: the leaking constructor grew most', async () => {
    const d = (await api.diffFiles(captures[scenario].before.snapshot, captures[scenario].after.snapshot)) as SnapshotDiff;
    expect(d.kind).toBe('heapsnapshot-diff');
    expect(d.grew[0]).toMatchObject({ name: want.constructor, countDelta: LEAKED * 0.9 });
  });
});

describe('captures from node --heap-prof', () => {
  it('are read like in-process sampling profiles', async () => {
    const leak = 'const kept = []; function leakRecords() { for (let i = 0; i < 50000; i++) kept.push({ i, tag: "t" + i }); } leakRecords(); globalThis.kept = kept;';
    const s = (await api.analyzeFile(await heapProf(['-e', leak], { intervalBytes: 1024 }))) as ProfileSummary;
    expect(s.sites[0]?.functionName).toBe('leakRecords');
  });
});

describe('analyzeCapture', () => {
  it('writes <capture>.summary.json, owner-only, complete, and returns the same summary', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'alert.heapprofile');
    copyFileSync(captures.map.after.profile, file);
    const summary = await api.analyzeCapture(file);
    const written = `${file}.summary.json`;
    expect(statSync(written).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(written, 'utf8'))).toEqual(summary);
    expect(readdirSync(dir).sort()).toEqual(['alert.heapprofile', 'alert.heapprofile.summary.json']);
  });

  it('gives the alert line its top 5 sites, the leak first', async () => {
    const summary = await api.analyzeCapture(captures.listeners.after.profile);
    const sites = api.topSites(summary);
    expect(sites).toHaveLength(5);
    expect(sites[0]?.site).toMatch(/^leakListeners .*leaky\.mjs:\d+:\d+$/);
    expect(api.topSitesText(summary)[0]).toMatch(/^\d+\.\d MiB \d+\.\d% leakListeners /);
    const snapshotSites = api.topSites(await api.analyzeFile(captures.listeners.after.snapshot), 3);
    expect(snapshotSites[0]?.site).toContain('.tick');
  });

  it('leaves no summary behind for a bad file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.heapsnapshot');
    writeFileSync(file, readFileSync(captures.map.after.snapshot).subarray(0, 200_000));
    await expect(api.analyzeCapture(file)).rejects.toThrow(`${file}: truncated heap snapshot (ends inside "nodes")`);
    expect(readdirSync(dir)).toEqual(['bad.heapsnapshot']);
  });
});

describe('the pool', () => {
  it("runs analysis off the caller's thread: the caller's timers keep firing meanwhile", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const pending = api.analyzeFile(captures.closures.after.snapshot);
    const ticksAtStart = ticks;
    await pending;
    clearInterval(timer);
    expect(ticks - ticksAtStart).toBeGreaterThanOrEqual(3);
  });

  it('reports progress up to the file size', async () => {
    const seen: Array<[number, number]> = [];
    await api.analyzeFile(captures.map.after.snapshot, { onProgress: (done, total) => seen.push([done, total]) });
    const size = statSync(captures.map.after.snapshot).size;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toEqual([size, size]);
    expect(seen.every(([done, total], i) => done <= total && (i === 0 || done >= seen[i - 1]![0]))).toBe(true);
  });

  it('bounds its queue', async () => {
    const pool = api.createAnalysisPool({ maxThreads: 1, maxQueue: 1 });
    const file = captures.map.after.snapshot;
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => api.analyzeFile(file, { pool })));
    await pool.close();
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    expect(String(rejected[0]?.reason)).toMatch(/queue is at limit/);
  });

  it('lets idle threads exit', async () => {
    const pool = api.createAnalysisPool({ idleTimeoutMs: 50 });
    await api.analyzeFile(captures.map.after.profile, { pool });
    expect(pool.threads.length).toBe(1);
    const deadline = Date.now() + 10_000;
    while (pool.threads.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pool.threads.length).toBe(0);
    await pool.close();
  });

  it('rejects bad files with a one-line reason naming the file', async () => {
    const dir = tempDir();
    const empty = path.join(dir, 'empty.heapsnapshot');
    writeFileSync(empty, '');
    await expect(api.analyzeFile(empty)).rejects.toThrow(`${empty}: empty file`);
    await expect(api.analyzeFile(empty)).rejects.toBeInstanceOf(api.AnalysisError);
    await expect(api.diffFiles(captures.map.after.profile, captures.map.after.snapshot)).rejects.toThrow('cannot compare a heap profile with a heap snapshot');
  });
});
