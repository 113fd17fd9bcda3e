import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FIXTURES, Harness, collect, topSelfFunction, waitForOutput } from './helpers.js';

let h: Harness | undefined;
const poll = { timeout: 30_000, interval: 100 };
const MB = 1024 * 1024;

/** A leaking process under a 64 MB old space, registered, with the supervisor's settings sent; not yet leaking. */
async function leaker(harness: Harness, targetMb = 40) {
  const child = harness.spawn(process.execPath, ['--max-old-space-size=64', path.join(FIXTURES, 'pressure-leak.cjs'), String(targetMb)], { env: harness.env() });
  const stderr = collect(child.stderr);
  const rec = await harness.registered((r) => r.pid === child.pid);
  await harness.sessions.attach(rec);
  const leaked = waitForOutput(child.stdout, /leaked/);
  leaked.catch(() => undefined);
  const go = () => harness.registry.send(rec.pid, { type: 'memory-pressure', level: 'go' });
  return { child, pid: rec.pid, leaked, go, stderr };
}

const said = (harness: Harness, pid: number, msg: string) => harness.logs.filter((l) => l.obj.pid === pid && l.msg === msg);

describe('no inspector session while nothing needs one', () => {
  it('registers an idle process (its loop asleep on a 30 s timer) and reads its heap with no session attached', async () => {
    h = await new Harness().start();
    const child = h.spawn(process.execPath, [path.join(FIXTURES, 'idle.cjs')], { env: h.env() });
    const stderr = collect(child.stderr);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // The fixture exits when its timer fires: a probe that waits for the loop to turn never registers.
    const rec = await Promise.race([h.registered((r) => r.pid === child.pid), exited.then(() => undefined)]);
    expect(rec, 'registered before the idle timer fired').toBeDefined();
    expect(rec!.url).toBeUndefined();
    await h.sessions.attach(rec!);
    const stats = await h.sessions.heapStats(rec!.pid);
    expect(stats.usedHeapSize).toBeGreaterThan(0);
    expect(stats.oldSpaceLimit).toBe(512 * MB);
    expect(stats).toMatchObject({ session: false, sampling: false });
    expect(await h.sessions.heap(rec!.pid)).toMatchObject({ used: expect.any(Number), limit: rec!.heapSizeLimit, oldSpaceLimit: 512 * MB, sampling: false });
    // console.log is still Node's own: no probe wrapper, because no session is there to retain its arguments.
    const report = waitForOutput(child.stdout, /console \w+/);
    h.registry.send(rec!.pid, { type: 'memory-pressure', level: 'report' });
    expect(await report).toBe('console native');
    // A GC attaches for its duration only.
    const gc = await h.sessions.gc(rec!.pid);
    expect(gc.afterBytes).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await h!.sessions.heapStats(rec!.pid)).session).toBe(false), poll);
    expect(stderr()).toBe('');
  });
});

describe('sampling from the first sign of pressure, decided in the probe', () => {
  it('starts sampling on its own as the post-GC heap climbs, and the profile names the leaking function', async () => {
    h = await new Harness().start({ pressure: 0.3, samplingInterval: 32 * 1024 });
    const l = await leaker(h);
    expect((await h.sessions.heap(l.pid)).sampling).toBe(false);
    l.go();
    await l.leaked;
    const started = said(h, l.pid, 'probe: started sampling');
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(['pressure', 'rising-floor']).toContain(started[0]!.obj.why);
    const heap = await h.sessions.heap(l.pid);
    expect(heap.sampling).toBe(true);
    expect(heap.used / heap.oldSpaceLimit!).toBeGreaterThan(0.3);
    expect((await h.sessions.heapStats(l.pid)).session).toBe(true);
    // Sampling was already running: the profile is taken at once, with everything since it started.
    const { file } = await h.sessions.saveProfile(l.pid, 'pressure');
    expect(said(h, l.pid, 'probe: the process was not sampling; sampling before the profile')).toEqual([]);
    expect(topSelfFunction(file)).toBe('leakUnderPressure');
    // The profile's hold is released, and sampling goes on: the pressure is still there.
    await vi.waitFor(async () => expect((await h!.sessions.heap(l.pid)).sampling).toBe(true), poll);
    expect(l.stderr()).toBe('');
  });

  it('stops sampling (and detaches) once the heap fell well below the pressure, and when the supervisor says so', async () => {
    h = await new Harness().start({ pressure: 0.3, samplingInterval: 32 * 1024 });
    const l = await leaker(h);
    l.go();
    await l.leaked;
    await vi.waitFor(async () => expect((await h!.sessions.heap(l.pid)).sampling).toBe(true), poll);

    // Told to stop while the heap is still high: it stops, and does not start again at the next major GC.
    await h.sessions.stopSampling(l.pid);
    await h.sessions.gc(l.pid);
    expect(await h.sessions.heapStats(l.pid)).toMatchObject({ sampling: false });
    await vi.waitFor(async () => expect((await h!.sessions.heapStats(l.pid)).session).toBe(false), poll);

    // Once the heap was low it may start again, and a leak restarting restarts it.
    const freed = waitForOutput(l.child.stdout, /freed/);
    h.registry.send(l.pid, { type: 'memory-pressure', level: 'free' });
    await freed;
    await h.sessions.gc(l.pid);
    const again = waitForOutput(l.child.stdout, /leaked/);
    l.go();
    await again;
    await vi.waitFor(async () => expect((await h!.sessions.heap(l.pid)).sampling).toBe(true), poll);

    // Relief: the heap falls under half the pressure and stays flat over the following major GCs.
    const freedAgain = waitForOutput(l.child.stdout, /freed/);
    h.registry.send(l.pid, { type: 'memory-pressure', level: 'free' });
    await freedAgain;
    await vi.waitFor(async () => {
      await h!.sessions.gc(l.pid);
      expect((await h!.sessions.heap(l.pid)).sampling).toBe(false);
    }, poll);
    const stopped = said(h, l.pid, 'probe: stopped sampling');
    expect(stopped.map((s) => s.obj.why)).toEqual(['relief']);
    await vi.waitFor(async () => expect((await h!.sessions.heapStats(l.pid)).session).toBe(false), poll);
    expect(l.stderr()).toBe('');
  });

  it('samples for a short window first when a profile is asked of a process that is not sampling, and says so', async () => {
    // samplingInterval 0: the probe never samples on its own.
    h = await new Harness().start({ pressure: 0.3, samplingInterval: 0, defaultWindowSeconds: 2 });
    const l = await leaker(h);
    l.go();
    const { file } = await h.sessions.saveProfile(l.pid, 'no sampling yet');
    expect(said(h, l.pid, 'probe: the process was not sampling; sampling before the profile')).toHaveLength(1);
    expect(topSelfFunction(file)).toBe('leakUnderPressure');
    expect(said(h, l.pid, 'probe: started sampling')).toEqual([]);
    // The window's hold is released and nothing else asks for sampling.
    await vi.waitFor(async () => expect(await h!.sessions.heapStats(l.pid)).toMatchObject({ sampling: false, session: false }), poll);
  });
});

describe('post-GC points', () => {
  it('reports the heap after major GCs to the supervisor, at most one point per 500 ms and always the latest', async () => {
    h = await new Harness().start();
    const child = h.spawn(process.execPath, [path.join(FIXTURES, 'idle.cjs')], { env: h.env() });
    const rec = await h.registered((r) => r.pid === child.pid);
    await h.sessions.attach(rec);
    const points = () => h!.gcPoints.filter((p) => p.pid === rec.pid).map((p) => p.point);
    const before = Date.now();
    const collections = 20;
    for (let i = 0; i < collections; i++) await h.sessions.gc(rec.pid);
    const latest = (await h.sessions.heap(rec.pid)).lastGc!;
    expect(latest.at).toBeGreaterThanOrEqual(before);
    // The last collection's point arrives even though it came within 500 ms of the one before.
    await vi.waitFor(() => expect(points().at(-1)).toEqual(latest), poll);
    const got = points();
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(collections);
    for (const p of got) expect(p.used).toBeGreaterThan(0);
    for (let i = 1; i < got.length; i++) expect(got[i]!.at).toBeGreaterThan(got[i - 1]!.at);
  });
});
