// Issue 16, container init: cfn-supervise as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`),
// as a container runs its entrypoint. PID 1 gets no default signal actions and inherits every orphan of the
// namespace; when it exits the kernel kills whatever is left. Inspected from outside, through the host's /proc.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PORTABLE_BACKEND, fixture, isAlive, readJsonl, tempDir, waitFor } from '../helpers/cli.js';
import { startContainer, unshareRefused, type Container } from './namespace.js';

const refused = unshareRefused();
const FAST = ['--backoff', '10', '--min-free', '0'];

const runs = (cwd: string) => readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
const supervisorLog = (cwd: string) => readJsonl(path.join(cwd, '.cfn-supervise/supervisor.log'));
const zombies = (c: Container) => c.processes().filter((p) => p.state === 'Z');

// A PID namespace is Linux's: there the linux backend runs, never the portable one (macOS has no such PID 1).
describe.skipIf(refused !== undefined || PORTABLE_BACKEND)(`cfn-supervise as PID 1 of a PID namespace${refused ? ` (skipped: ${refused})` : ''}`, () => {
  it.each([
    ['exits with the agent exit code', 'process.exit(3)', 3, null],
    // PID 1 cannot die of a signal it raises on itself (the kernel drops it): it exits 128+n as a shell would.
    ['exits 128+9 for an agent killed by SIGKILL', "process.kill(process.pid, 'SIGKILL')", 137, 'SIGKILL'],
    ['exits 128+15 for an agent killed by SIGTERM', "process.kill(process.pid, 'SIGTERM')", 143, 'SIGTERM'],
  ])('%s', async (_what, script, code, signal) => {
    const cwd = tempDir();
    const c = startContainer([...FAST, '--no-probe', '--restart', 'never', '--', 'node', '-e', script], cwd);
    expect(await c.exited).toEqual({ code, signal: null });
    expect(c.stderr()).toBe('');
    expect(runs(cwd).map((r) => r.exit)).toEqual([expect.objectContaining({ code, signal })]);
    expect(supervisorLog(cwd).find((l) => l.msg === 'supervisor started')).toMatchObject({ supervisor_pid: 1 });
  });

  // 6 is SIGABRT, not its alias SIGIOT: the name the journals, shells and Node use.
  it('records an agent that aborts as SIGABRT', async () => {
    const cwd = tempDir();
    const c = startContainer([...FAST, '--no-probe', '--restart', 'never', '--', 'node', '-e', 'process.abort()'], cwd);
    expect(await c.exited).toEqual({ code: 134, signal: null });
    expect(runs(cwd).map((r) => r.exit)).toEqual([expect.objectContaining({ code: 134, signal: 'SIGABRT' })]);
  });

  it('forwards the signals PID 1 receives to the agent, and exits with its code', async () => {
    const cwd = tempDir();
    const c = startContainer([...FAST, '--', 'node', fixture('lifecycle/signals.cjs')], cwd);
    await waitFor(() => c.stdout().includes('ready'), 20_000, 'the agent');
    const init = await c.init();
    for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT'] as const) {
      process.kill(init, sig);
      await waitFor(() => c.stdout().includes(`got ${sig}`), 10_000, `the forwarded ${sig}`);
    }
    process.kill(init, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 42, signal: null });
  });

  it('reaps a double-forked orphan that lands on it: no zombie is left', async () => {
    const cwd = tempDir();
    const pidFile = path.join(cwd, 'orphan');
    // The orphan lives 3 s, the agent until it is stopped.
    const c = startContainer([...FAST, '--no-probe', '--restart', 'never', '--', 'node', fixture('lifecycle/double-fork.cjs'), pidFile, '3000', '600000'], cwd);
    const nsPid = await waitFor(() => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')), 20_000, 'the orphan');
    const init = await c.init();
    const orphan = await waitFor(() => c.processes().find((p) => p.nsPid === nsPid && p.ppid === init), 10_000, 'the orphan re-parented to PID 1');
    await waitFor(() => !existsSync(`/proc/${orphan.pid}`), 20_000, 'the orphan to exit and be reaped');
    expect(zombies(c)).toEqual([]);
    process.kill(init, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 143, signal: null });
  });

  it('reaps a burst of orphans that exit together (coalesced SIGCHLDs): no zombie is left', async () => {
    const cwd = tempDir();
    const burst = 'i=0; while [ $i -lt 30 ]; do (sleep 4 &); i=$((i+1)); done; echo spawned; exec sleep 600';
    const c = startContainer([...FAST, '--no-probe', '--restart', 'never', '--', 'sh', '-c', burst], cwd);
    await waitFor(() => c.stdout().includes('spawned'), 20_000, 'the burst');
    const init = await c.init();
    const orphans = () => c.processes().filter((p) => p.argv.join(' ') === 'sleep 4');
    expect(orphans().filter((p) => p.ppid === init).length).toBeGreaterThan(0);
    await waitFor(() => orphans().length === 0, 20_000, 'every orphan to exit and be reaped');
    expect(zombies(c)).toEqual([]);
    process.kill(init, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 143, signal: null });
  });

  it('on SIGTERM stops the whole tree within --kill-timeout (SIGKILL for what ignores it) and exits', async () => {
    const cwd = tempDir();
    const killTimeoutMs = 1500;
    const c = startContainer([...FAST, '--kill-timeout', String(killTimeoutMs), '--', 'node', fixture('container/stubborn-tree.cjs')], cwd);
    await waitFor(() => c.stdout().includes('ready'), 20_000, 'the agent and its stubborn child');
    const init = await c.init();
    const tree = c.processes().map((p) => p.pid);
    expect(tree.length).toBeGreaterThanOrEqual(3);
    const sentAt = Date.now();
    process.kill(init, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 42, signal: null });
    const tookMs = Date.now() - sentAt;
    expect(c.stdout()).toContain('agent got SIGTERM');
    expect(tree.filter(isAlive)).toEqual([]);
    // The child ignores SIGTERM: it had its grace, then SIGKILL; the default --kill-timeout (10 s) would be later.
    expect(tookMs).toBeGreaterThanOrEqual(killTimeoutMs);
    expect(tookMs).toBeLessThan(killTimeoutMs + 6000);
    expect(runs(cwd).map((r) => r.exit)).toEqual([expect.objectContaining({ code: 42, reason: 'stopped' })]);
    const log = supervisorLog(cwd);
    expect(log.filter((l) => l.level === 'error')).toEqual([]);
    expect(log.at(-1)).toMatchObject({ msg: 'supervisor exiting' });
  });

  it('restarts an agent that runs out of heap, records each OOM, and exits 128+6 when it gives up', async () => {
    const cwd = tempDir();
    const c = startContainer([...FAST, '--heap-limit', '64', '--max-restarts', '1', '--', 'node', fixture('lifecycle/oom.cjs')], cwd);
    // Node aborts on heap exhaustion (SIGABRT); PID 1 exits 134 instead of dying of it.
    expect(await c.exited).toEqual({ code: 134, signal: null });
    expect(c.stderr()).toMatch(/restarting in/);
    expect(c.stderr()).toMatch(/giving up: 1 restarts within/);
    const recorded = runs(cwd);
    expect(recorded.map((r) => (r.exit as { reason: string }).reason)).toEqual(['oom', 'oom']);
    expect(recorded.map((r) => r.restarts)).toEqual([0, 1]);
    for (const r of recorded) {
      expect(r.exit).toMatchObject({ code: 134 });
      const reports = r.reports as string[];
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.every((f) => existsSync(f))).toBe(true);
    }
    // Both agents were seen from inside by the probe: it works inside the namespace too.
    expect(supervisorLog(cwd).filter((l) => l.msg === 'node process registered')).toHaveLength(2);
  });
});
