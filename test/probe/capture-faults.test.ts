import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/common/errors.js';
import { FIXTURES, Harness, collect, unprobedEnv, waitForOutput } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const poll = { timeout: 30_000, interval: 100 };

/** Descriptors the process holds open into `dir`. */
function openInto(pid: number, dir: string): string[] {
  const links: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      links.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed meanwhile.
    }
  }
  return links.filter((l) => l.startsWith(dir));
}

/** A probed process, registered and configured, whose stderr is collected. */
async function probed(harness: Harness, script: string, args: string[] = []): Promise<{ child: ChildProcess; pid: number; stderr: () => string }> {
  const child = harness.spawn(process.execPath, [path.join(FIXTURES, script), ...args], { env: harness.env() });
  const stderr = collect(child.stderr);
  const rec = await harness.registered((r) => r.pid === child.pid);
  await harness.inspectors.attach(rec);
  return { child, pid: rec.pid, stderr };
}

describe('a full disk fails the capture, cleanly', () => {
  it('a snapshot that hits ENOSPC: the capture fails, nothing on the agent’s stderr, no file left, no descriptor held', async (ctx) => {
    h = new Harness();
    const captures = h.tmpfs('captures', '2m');
    if (!captures) return ctx.skip('mount -t tmpfs was refused on this machine');
    // The free-space check is taken out of the way (factor 0) so that the write itself hits the full disk.
    await h.start({ capturesDir: captures, snapshotFileFactor: 0 });
    const agent = await probed(h, 'bigheap.cjs', ['20']);
    await waitForOutput(agent.child.stdout, /ready/);
    await expect(h.inspectors.snapshot(agent.pid, 'full disk')).rejects.toThrow(/ENOSPC|no space/i);
    expect(readdirSync(captures)).toEqual([]);
    expect(openInto(agent.pid, captures)).toEqual([]);
    // The probe lives on, detached, and the next request is answered.
    expect(await h.inspectors.heapStats(agent.pid)).toMatchObject({ session: false });
    expect(agent.stderr()).toBe('');
    expect(h.logs.some((l) => l.msg === 'inspector: capture failed' && /ENOSPC|no space/i.test(String(l.obj.err)))).toBe(true);
  });

  it('a profile that hits ENOSPC: the capture fails at once, and the descriptor is closed', async (ctx) => {
    h = new Harness();
    const captures = h.tmpfs('captures', '64k');
    if (!captures) return ctx.skip('mount -t tmpfs was refused on this machine');
    await h.start({ capturesDir: captures, samplingInterval: 1024 });
    const agent = await probed(h, 'leak.cjs');
    await h.inspectors.startSampling(agent.pid);
    const leaked = waitForOutput(agent.child.stdout, /leaked/);
    h.registry.send(agent.pid, { type: 'memory-pressure', level: 'go' });
    await leaked;
    // What is left of the disk holds far less than a 1 KiB-interval profile of a 40 MB leak.
    writeFileSync(path.join(captures, 'filler'), Buffer.alloc(60 * 1024));
    await expect(h.inspectors.saveProfile(agent.pid, 'full disk')).rejects.toThrow(/ENOSPC|no space/i);
    expect(readdirSync(captures)).toEqual(['filler']);
    expect(openInto(agent.pid, captures)).toEqual([]);
    expect(agent.stderr()).toBe('');
  });

  it('refuses a snapshot up front when the disk cannot take ~2.2 × the used heap', async (ctx) => {
    h = new Harness();
    const captures = h.tmpfs('captures', '8m');
    if (!captures) return ctx.skip('mount -t tmpfs was refused on this machine');
    await h.start({ capturesDir: captures });
    const agent = await probed(h, 'bigheap.cjs', ['20']);
    await waitForOutput(agent.child.stdout, /ready/);
    await expect(h.inspectors.snapshot(agent.pid, 'too big')).rejects.toThrow(/snapshot refused: \d+ MB free on the captures disk, the file may need \d+ MB \(2\.2 × the \d+ MB heap\)/);
    expect(readdirSync(captures)).toEqual([]);
  });
});

describe('snapshots side by side share the disk headroom', () => {
  it('four snapshots asked at once on a disk that fits one: one is written, three refused up front, no ENOSPC', async (ctx) => {
    h = new Harness();
    const captures = h.tmpfs('captures', '100m');
    if (!captures) return ctx.skip('mount -t tmpfs was refused on this machine');
    await h.start({ capturesDir: captures });
    // 27–34 MB used each (the same objects take less heap on Node 24 and 26 than on 20 and 22): 2.2 × that fits
    // once in 100 MB, not twice; each check alone passes.
    const agents = await Promise.all([0, 1, 2, 3].map(() => probed(h!, 'bigheap.cjs', ['13'])));
    await Promise.all(agents.map((a) => waitForOutput(a.child.stdout, /ready/)));
    const outcomes = await Promise.all(
      agents.map((a) =>
        h!.inspectors.snapshot(a.pid, 'side by side').then(
          () => 'written',
          (err: Error) => (/snapshot refused: \d+ MB free on the captures disk beside the snapshots being written/.test(err.message) ? 'refused' : err.message),
        ),
      ),
    );
    expect(outcomes.sort()).toEqual(['refused', 'refused', 'refused', 'written']);
    expect(readdirSync(captures).filter((f) => f.endsWith('.heapsnapshot'))).toHaveLength(1);
    expect(readdirSync(captures).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Released once written: the disk's own free space decides again.
    const after = await h.inspectors.snapshot(agents[0]!.pid, 'after').then(
      () => 'written',
      (err: Error) => err.message,
    );
    expect(after).not.toMatch(/beside the snapshots being written/);
  });
});

describe('the probe writes only into the empty private file it was given, in the captures folder', () => {
  it('refuses a path outside the folder, a non-empty file, a file open to others, and a symlink, touching none', async () => {
    h = await new Harness().start();
    const agent = await probed(h, 'idle.cjs');
    await h.inspectors.startSampling(agent.pid);
    const captures = path.join(h.dir, 'captures');
    mkdirSync(captures, { mode: 0o700 });
    const capture = (file: string) => h!.registry.request(agent.pid, { type: 'capture', kind: 'heapprofile', path: file }, { timeoutMs: 5000 });

    const outside = path.join(h.dir, 'outside.tmp');
    writeFileSync(outside, '', { mode: 0o600 });
    await expect(capture(outside)).rejects.toThrow(/refusing to write outside/);

    const full = path.join(captures, '.full.tmp');
    writeFileSync(full, 'precious', { mode: 0o600 });
    await expect(capture(full)).rejects.toThrow(/not empty/);
    expect(readFileSync(full, 'utf8')).toBe('precious');

    const open = path.join(captures, '.open.tmp');
    writeFileSync(open, '');
    chmodSync(open, 0o644);
    await expect(capture(open)).rejects.toThrow(/mode 644, not 600/);

    const target = path.join(h.dir, 'target');
    writeFileSync(target, '', { mode: 0o600 });
    const link = path.join(captures, '.link.tmp');
    symlinkSync(target, link);
    await expect(capture(link)).rejects.toThrow(/ELOOP/);
    expect(readFileSync(target, 'utf8')).toBe('');
    expect(openInto(agent.pid, h.dir)).toEqual([]);
    expect(agent.stderr()).toBe('');
  });
});

describe('no capture holds the supervisor', () => {
  /** A fake probe (a plain net client, registered as itself) answering a capture with progress forever. */
  async function endless(harness: Harness): Promise<number> {
    const fake = harness.spawn(process.execPath, [path.join(FIXTURES, 'fake-probe.cjs'), harness.registry.socketPath, 'self', 'endless-progress'], { env: unprobedEnv() });
    const rec = await harness.registered((r) => r.pid === fake.pid);
    await harness.inspectors.attach(rec);
    return rec.pid;
  }

  it('cuts a capture that streams progress forever at its total time cap, and removes its file', async () => {
    h = await new Harness().start({ snapshotIdleTimeoutMs: 1000, snapshotTimeoutMs: 4000 });
    const pid = await endless(h);
    let progress = 0;
    const err = await h.inspectors.snapshot(pid, 'endless', () => (progress += 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/total time cap/);
    // Progress kept the idle timeout (1 s) from firing all along.
    expect(progress).toBeGreaterThan(15);
    expect(readdirSync(path.join(h.dir, 'captures'))).toEqual([]);
  });

  it('closing never waits for a capture or a sampling window in flight', async () => {
    h = await new Harness().start({ snapshotIdleTimeoutMs: 600_000, snapshotTimeoutMs: 600_000 });
    const pid = await endless(h);
    let progress = 0;
    const snapshot = h.inspectors.snapshot(pid, 'endless', () => (progress += 1)).catch((e: unknown) => e);
    await vi.waitFor(() => expect(progress).toBeGreaterThan(0), poll);
    const agent = await probed(h, 'idle.cjs');
    const window = h.inspectors.saveProfile(agent.pid, 'window', { window: { seconds: 600 } }).catch((e: unknown) => e);
    await vi.waitFor(async () => expect((await h!.inspectors.heapStats(agent.pid)).sampling).toBe(true), poll);
    // Everything in flight fails at closeAll, before the registry is even closed.
    h.inspectors.closeAll();
    expect(String(await snapshot)).toMatch(/the supervisor is stopping/);
    expect(String(await window)).toMatch(/the supervisor is stopping/);
    await h.registry.close();
    await vi.waitFor(() => expect(readdirSync(path.join(h!.dir, 'captures'))).toEqual([]), poll);
  });
});
