// Node's default inspector port, 9229, held by another listener: SIGUSR1 then opens nothing (node says so on the
// target's stderr). The attach refuses in one line naming the holder, or, given time, opens once the port is free.
// Other files' targets use --inspect-port=0, but a supervised probe-less child opens 9229 (inspector-port/
// supervised.test.ts): both hold the `inspector-9229` lock for the time, so neither takes the port from the other.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { exclusive, isAlive, waitFor } from '../helpers/cli.js';
import { attachInspector } from '../../src/supervisor/inspector-port/inspector-port.js';
import { DEFAULT_INSPECTOR_PORT, InspectorUnavailable } from '../../src/supervisor/inspector-port/inspector-open.js';
import { listeningPorts, OPTS, rejection, target } from './helpers.js';

describe('port 9229 held by another process', () => {
  it('refuses in one line naming the holder, then opens the inspector once the port is free', async () => {
    await exclusive('inspector-9229');
    let holder = net.createServer();
    const hold = () =>
      new Promise<boolean>((resolve) => {
        holder = net.createServer();
        holder.once('error', () => resolve(false));
        holder.listen(DEFAULT_INSPECTOR_PORT, '127.0.0.1', () => resolve(true));
      });
    // The process of a test that held the lock before may still be ending, its inspector on 9229: freed, it would
    // let the target open there within the refusal's time. One that stays (someone else's) cannot be freed here:
    // the refusal is still checked.
    const heldHere = await waitFor(hold, 20_000, 'port 9229 free').catch(() => false);
    try {
      const t = await target('leak.cjs', [], { defaultPort: true });
      const err = await rejection(attachInspector(t.pid, { ...OPTS, openTimeoutMs: 1500 }));
      expect(err).toBeInstanceOf(InspectorUnavailable);
      expect(err.status).toBe(409);
      expect(err.problem).toBe('port-in-use');
      const who = heldHere ? `pid ${process.pid}` : '(pid \\d+|another process)';
      expect(err.message).toMatch(
        new RegExp(`^pid ${t.pid}: cannot open its inspector: port 9229 \\(node's default\\) is held by ${who}; free it, or start the process with --inspect-port=0$`),
      );
      // The refusal goes by the holder alone; node's own word follows when it has handled the signal (late on a
      // busy machine).
      await waitFor(() => t.stderr().includes('Starting inspector on 127.0.0.1:9229 failed: address already in use'), 15_000, "node's failed opening");
      expect(isAlive(t.pid)).toBe(true);
      if (!heldHere) return;

      const failures = () => t.stderr().split('failed: address already in use').length;
      const before = failures();
      const attaching = attachInspector(t.pid, { ...OPTS, openTimeoutMs: 30_000 });
      await waitFor(() => failures() > before, 15_000, 'a failed opening');
      await new Promise((resolve) => holder.close(resolve));
      const h = await attaching;
      expect(h.port).toBe(DEFAULT_INSPECTOR_PORT);
      expect(listeningPorts(t.pid)).toEqual([DEFAULT_INSPECTOR_PORT]);
      expect((await h.heapUsage()).used).toBeGreaterThan(0);
      expect(await h.close()).toBe('closed');
      expect(listeningPorts(t.pid)).toEqual([]);
    } finally {
      if (holder.listening) holder.close();
    }
  }, 150_000);
});
