// attachInspector against real node processes that never saw the probe: it opens their inspector with SIGUSR1,
// works over chrome-remote-interface, detaches, and leaves no port listening; it refuses what it must not signal.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, tempDir, waitFor } from '../helpers/cli.js';
import { TimeoutError } from '../../src/common/errors.js';
import { attachInspector, saveCapture } from '../../src/supervisor/probe-link/inspector-port.js';
import { InspectorUnavailable, TargetRefused } from '../../src/supervisor/probe-link/inspector-open.js';
import { listeningPorts, OPTS, rejection, start, target } from './helpers.js';

describe('attachInspector', () => {
  it('opens, answers and closes the inspector it opened, prints only the documented lines, and attaches again', async () => {
    const t = await target('leak.cjs');
    expect(listeningPorts(t.pid)).toEqual([]);
    const first = await attachInspector(t.pid, OPTS);
    expect(first.openedByApp).toBe(false);
    expect(listeningPorts(t.pid)).toEqual([first.port]);
    const usage = await first.heapUsage();
    expect(usage.used).toBeGreaterThan(0);
    expect(usage.limit).toBeGreaterThan(usage.used);
    const stats = await first.heapStats();
    expect(stats.heapSizeLimit).toBe(usage.limit);
    expect(stats.oldSpaceUsed).toBeGreaterThan(0);
    const gc = await first.collectGarbage();
    expect(gc.beforeBytes).toBeGreaterThan(0);
    expect(await first.close()).toBe('closed');
    expect(await first.ended).toBe('detached');
    expect(listeningPorts(t.pid)).toEqual([]);

    const second = await attachInspector(t.pid, OPTS);
    expect((await second.heapUsage()).used).toBeGreaterThan(0);
    expect(await second.close()).toBe('closed');
    expect(listeningPorts(t.pid)).toEqual([]);
    await expect(second.heapUsage()).rejects.toThrow(/session was closed/);

    const lines = t.stderr().trim().split('\n');
    const documented = [/^Debugger listening on ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+$/, /^For help, see: https:\/\/nodejs\.org\/\S+$/, /^Debugger attached\.$/];
    expect(lines).toHaveLength(documented.length * 2);
    lines.forEach((line, i) => expect(line).toMatch(documented[i % documented.length]!));
  });

  it('streams a heap snapshot into a private capture file', async () => {
    const t = await target('leak.cjs');
    const dir = path.join(tempDir('cfn-inspector-'), 'captures');
    const h = await attachInspector(t.pid, OPTS);
    let progress = 0;
    let file: string;
    try {
      file = await saveCapture(h, dir, 'manual', 'heapsnapshot', (done) => (progress = done));
    } finally {
      await h.close();
    }
    expect(path.basename(file)).toMatch(new RegExp(`-${t.pid}-manual\\.heapsnapshot$`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(progress).toBe(statSync(file).size);
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { node_count: number } };
    expect(snapshot.snapshot.node_count).toBeGreaterThan(1000);
    expect(readdirSync(dir)).toEqual([path.basename(file)]);
    expect(listeningPorts(t.pid)).toEqual([]);
  });

  it('leaves no file when the process dies in the middle of a snapshot', async () => {
    const t = await target('bigheap.cjs', ['40']);
    const dir = path.join(tempDir('cfn-inspector-'), 'captures');
    const h = await attachInspector(t.pid, OPTS);
    const err = await rejection(saveCapture(h, dir, 'manual', 'heapsnapshot', () => t.child.kill('SIGKILL')));
    expect(err.message).toMatch(new RegExp(`^pid ${t.pid}: HeapProfiler.takeHeapSnapshot: `));
    expect(await h.close()).toBe('process-gone');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a snapshot up front when the captures disk cannot take it, and writes nothing', async (ctx) => {
    const t = await target('bigheap.cjs', ['20']);
    const dir = path.join(tempDir('cfn-inspector-'), 'captures');
    mkdirSync(dir, { mode: 0o700 });
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir]).status !== 0) return ctx.skip('mount -t tmpfs was refused on this machine');
    try {
      const h = await attachInspector(t.pid, OPTS);
      try {
        await expect(saveCapture(h, dir, 'manual', 'heapsnapshot')).rejects.toThrow(/snapshot refused: \d+ MB free on the captures disk/);
      } finally {
        await h.close();
      }
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      spawnSync('umount', [dir]);
    }
  });

  it('a process blocked outside JavaScript gets a timeout, not a hung caller, and closes its port once it runs again', async () => {
    const t = await target('block.cjs', ['6000']);
    const h = await attachInspector(t.pid, { ...OPTS, callTimeoutMs: 500 });
    const port = h.port;
    t.child.kill('SIGUSR2');
    await waitFor(() => t.stdout().includes('blocking'), 15_000, 'the block');
    const err = await rejection(h.heapUsage());
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(`pid ${t.pid}: Runtime.getHeapUsage got no answer within 500 ms`);
    // Still blocked when the caller got its answer.
    expect(t.stdout()).not.toContain('unblocked');
    const fate = await h.close();
    expect(fate).toBe(t.stdout().includes('unblocked') ? fate : 'still-open');
    await waitFor(() => t.stdout().includes('unblocked'), 30_000, 'the end of the block');
    await waitFor(() => !listeningPorts(t.pid).includes(port), 30_000, 'the port to close');
    const again = await attachInspector(t.pid, OPTS);
    expect((await again.heapUsage()).used).toBeGreaterThan(0);
    expect(await again.close()).toBe('closed');
  });

  it('refuses in one line a process that cannot open its inspector in time (documented: it opens once it runs again)', async () => {
    const t = await target('block.cjs', ['5000']);
    t.child.kill('SIGUSR2');
    await waitFor(() => t.stdout().includes('blocking'), 15_000, 'the block');
    const err = await rejection(attachInspector(t.pid, { ...OPTS, openTimeoutMs: 1000 }));
    expect(err).toBeInstanceOf(InspectorUnavailable);
    expect(err.status).toBe(409);
    expect(err.problem).toBe('not-opened');
    expect(err.message).toMatch(new RegExp(`^pid ${t.pid}: its inspector did not open within 1000 ms`));
    expect(err.message).not.toContain('\n');
    await waitFor(() => listeningPorts(t.pid).length === 1, 30_000, 'the late inspector');
  });

  it('a process spinning in JavaScript is still served (V8 interrupts)', async () => {
    const t = await target('spin.cjs');
    const h = await attachInspector(t.pid, OPTS);
    try {
      expect((await h.heapUsage()).used).toBeGreaterThan(0);
    } finally {
      expect(await h.close()).toBe('closed');
    }
    expect(listeningPorts(t.pid)).toEqual([]);
  });

  it("keeps an app's own inspector open", async () => {
    const t = await target('own-inspector.cjs');
    const port = Number(/ready ws:\/\/127\.0\.0\.1:(\d+)\//.exec(t.stdout())?.[1]);
    for (let round = 0; round < 2; round++) {
      const h = await attachInspector(t.pid, OPTS);
      expect(h.openedByApp).toBe(true);
      expect(h.port).toBe(port);
      expect((await h.heapUsage()).used).toBeGreaterThan(0);
      expect(await h.close()).toBe('kept-open-by-app');
      expect(listeningPorts(t.pid)).toEqual([port]);
    }
    // The app's own opening printed its banner; no attach opened anything.
    expect(t.stderr().match(/Debugger listening/g)).toHaveLength(1);
  });

  it('lets a process that exits while attached go at once', async () => {
    const t = await target('leak.cjs', ['3000']);
    const h = await attachInspector(t.pid, OPTS);
    expect(await h.ended).toBe('exited');
    expect(await t.exited).toEqual({ code: 0, signal: null });
    expect(t.stderr()).toContain('Waiting for the debugger to disconnect...');
    expect(await h.close()).toBe('process-gone');
  });

  it('refuses in one line what is not a node process of ours, and does not signal it', async () => {
    const notNode = start('sleep', ['60']);
    const notNodeErr = await rejection(attachInspector(notNode.pid, OPTS));
    expect(notNodeErr).toBeInstanceOf(TargetRefused);
    expect(notNodeErr.message).toMatch(new RegExp(`^pid ${notNode.pid}: sleep is not a node process \\(it runs .*sleep\\)$`));
    expect(notNodeErr.status).toBe(409);

    // As root, a process of another user is made here; otherwise pid 1 belongs to another user (root).
    const asRoot = process.getuid?.() === 0;
    const foreign = asRoot ? start('sleep', ['60'], { uid: 65534, gid: 65534 }).pid : 1;
    const foreignErr = await rejection(attachInspector(foreign, OPTS));
    expect(foreignErr).toBeInstanceOf(TargetRefused);
    expect(foreignErr.problem).toBe('not-owned');
    expect(foreignErr.message).toMatch(new RegExp(`^pid ${foreign}: \\S+ belongs to uid \\d+, not to you \\(uid \\d+\\); only your own processes can be attached to$`));
    expect(foreignErr.status).toBe(409);

    const done = start(process.execPath, ['-e', '0']);
    await done.exited;
    const goneErr = await rejection(attachInspector(done.pid, OPTS));
    expect(goneErr.problem).toBe('gone');
    expect(goneErr.status).toBe(404);

    expect(isAlive(notNode.pid)).toBe(true);
    expect(isAlive(foreign)).toBe(true);
  });
});
