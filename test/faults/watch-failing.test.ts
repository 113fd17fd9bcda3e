// A watch loop whose ticks fail must not look healthy. The failure is a real one from the environment: the
// supervisor's /proc/meminfo stops reading (as it does in a container whose LXCFS died: reads fail with
// ENOTCONN); here, in a mount namespace of the supervisor's own, a file whose reads fail with EIO is bound over it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { BIN, PORTABLE_BACKEND, fixture, runCli, spawnTracked, tempDir, waitFor } from '../helpers/cli.js';
import { send } from '../control/harness.js';

const UNSHARE = ['--mount', '--propagation', 'private'];

function unshareRefused(): string | undefined {
  const r = spawnSync('unshare', [...UNSHARE, 'true'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? undefined : `unshare ${UNSHARE.join(' ')} is refused here: ${r.error?.message ?? r.stderr.trim()}`;
}

describe('a failing tick', () => {
  // The failure is made in /proc/meminfo, which only the linux backend reads.
  it.skipIf(PORTABLE_BACKEND)('three failed ticks in a row: /healthz fails with the reason, status and diagnostics say so; it recovers with the ticks', async (ctx) => {
    const refused = unshareRefused();
    if (refused) return ctx.skip(refused);
    const base = tempDir('cfn-watch-failing-');
    const stateDir = path.join(base, 'state');
    // Reading /proc/<pid>/mem at offset 0 fails with EIO: the stand-in for a meminfo that no longer reads.
    const sleeper = spawnTracked('sleep', ['600'], { stdio: 'ignore' });
    const supervisor = spawnTracked('unshare', [...UNSHARE, BIN, '--state-dir', stateDir, '--interval', '200', '--min-free', '0', '--', process.execPath, fixture('control/agent.cjs')], {
      cwd: base,
      stdio: 'ignore',
    });
    const socketPath = new ControlClient(stateDir).socketPath;
    const health = async () => {
      const r = await send({ socketPath }, 'GET', '/healthz');
      return { status: r.status, body: r.json() as { ok: boolean; reason?: string } };
    };
    await waitFor(() => existsSync(socketPath), 20_000, 'the control socket');
    await waitFor(async () => (await health()).status === 200, 20_000, 'a healthy supervisor');

    const inNamespace = (...args: string[]) => execFileSync('nsenter', ['-t', String(supervisor.pid), '-m', ...args], { stdio: 'pipe' });
    inNamespace('mount', '--bind', `/proc/${sleeper.pid}/mem`, '/proc/meminfo');
    const failing = await waitFor(async () => {
      const h = await health();
      return h.status === 503 && h.body;
    }, 20_000, '/healthz to fail');
    expect(failing.reason).toMatch(/^the last \d+ ticks failed, no memory rule acts \(last error: .*EIO/);

    const status = await runCli(['status', '--state-dir', stateDir], { cwd: base });
    expect(status.stdout.toString()).toMatch(/^watch {7}FAILING: the last \d+ ticks failed.*EIO/m);
    const diagnostics = await runCli(['diagnostics', '--state-dir', stateDir], { cwd: base });
    expect(diagnostics.code).toBe(0);
    expect(diagnostics.stdout.toString()).toMatch(/^ {2}- the watch loop is failing: the last \d+ ticks failed.*EIO/m);

    inNamespace('umount', '/proc/meminfo');
    await waitFor(async () => (await health()).status === 200, 20_000, '/healthz to recover');
  });
});
