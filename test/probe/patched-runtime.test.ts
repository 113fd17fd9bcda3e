import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FIXTURES, Harness, collect, epochMs, exited, unprobedEnv, waitForOutput } from './helpers.js';

let h: Harness | undefined;
const PATCHES = ['JSON.stringify', 'JSON.parse', 'Socket.prototype.write', 'Promise.prototype.then', 'process.emit', 'setTimeout'];

describe('an app that replaces part of the runtime after start (strict about calls it did not make)', () => {
  for (const patch of PATCHES) {
    it(`${patch}: heap reads, a GC, captures and memory pressure leave the app running, and it exits as bare`, async () => {
      h = await new Harness().start({ samplingInterval: 32 * 1024 });
      const run = async (probed: boolean) => {
        const child = h!.spawn(process.execPath, [path.join(FIXTURES, 'patched-runtime.cjs'), patch], {
          env: probed ? h!.env() : unprobedEnv(),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const stdout = collect(child.stdout);
        const stderr = collect(child.stderr);
        await waitForOutput(child.stdout, /patched/);
        if (probed) {
          const rec = await h!.registered((r) => r.pid === child.pid);
          await h!.sessions.attach(rec);
          // What the supervisor does routinely, and on demand.
          for (let i = 0; i < 3; i++) expect((await h!.sessions.heap(rec.pid)).used).toBeGreaterThan(0);
          expect((await h!.sessions.heapStats(rec.pid)).usedHeapSize).toBeGreaterThan(0);
          expect((await h!.sessions.gc(rec.pid)).afterBytes).toBeGreaterThan(0);
          // A second GC within the probe's 500 ms: its post-GC point is held on a timer, then sent.
          const second = epochMs();
          expect((await h!.sessions.gc(rec.pid)).afterBytes).toBeGreaterThan(0);
          await vi.waitFor(() => expect(h!.gcPoints.some((g) => g.pid === rec.pid && g.point.at >= second)).toBe(true), { timeout: 20_000, interval: 50 });
          await h!.sessions.saveProfile(rec.pid, 'patched', { coldSeconds: 1 });
          await h!.sessions.snapshot(rec.pid, 'patched');
          expect(h!.registry.send(rec.pid, { type: 'memory-pressure', level: 'warning' })).toBe(true);
          // One more round trip: the pressure line was handled before this answer.
          expect((await h!.sessions.heap(rec.pid)).used).toBeGreaterThan(0);
        }
        child.stdin!.end('end\n');
        await exited(child);
        return { code: child.exitCode, signal: child.signalCode, stdout: stdout(), stderr: stderr() };
      };
      const bare = await run(false);
      expect(bare).toEqual({ code: 7, signal: null, stdout: 'patched\nran true\n', stderr: '' });
      expect(await run(true)).toEqual(bare);
    });
  }
});
