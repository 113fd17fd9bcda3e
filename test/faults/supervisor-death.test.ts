// Issue 11, "the supervisor must not die, and its death must not orphan the tree": a supervisor killed outright
// leaves nothing behind, the next one on the state dir records the lost run; a broken stderr kills nothing.
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStat } from '../../src/platform/linux/stat.js';
import { CLI, PORTABLE_BACKEND, descendantsOf, fixture, isAlive, readJsonl, runCli, spawnTracked, startCli, tempDir, track, waitFor } from '../helpers/cli.js';

const FAST = ['--min-free', '0', '--interval', '200'];

/** A supervised tree (agent, node child, setsid grandchild, double-forked daemon), once the ledger lists it all. */
async function superviseTree() {
  const cwd = tempDir();
  const pidsFile = path.join(cwd, 'pids.json');
  const s = startCli([...FAST, '--', 'node', fixture('faults/tree.cjs'), pidsFile], { cwd });
  const pids = await waitFor(() => existsSync(pidsFile) && (JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, number>), 20_000, 'the tree');
  const tree = Object.values(pids);
  for (const pid of tree) track(pid);
  // The supervisor has seen all of them once the ledger it keeps lists them (one interval at most). Without a
  // subreaper, a double-forked daemon that no scan saw is not listed: the watchdog finds it by the run's mark.
  const listed = Object.entries(pids).flatMap(([role, pid]) => (PORTABLE_BACKEND && role === 'daemon' ? [] : [pid]));
  const ledger = path.join(cwd, '.cfn-supervise/ledger');
  await waitFor(() => existsSync(ledger) && listed.every((pid) => readFileSync(ledger, 'utf8').includes(`pid ${pid} `)), 10_000, 'the ledger');
  return { cwd, s, pids, tree };
}

/** The supervisor's watchdogs (more than one while a stopped one is being replaced). */
const watchdogsOf = (supervisor: number) =>
  descendantsOf(supervisor).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('watchdog.sh');
    } catch {
      return false;
    }
  });

/** A root process outside any supervised tree, in a group of its own: what a planted ledger would aim at. */
function bystander(): { pid: number; startTime: number } {
  const child = spawnTracked('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  return { pid: child.pid!, startTime: readStat(child.pid!)!.startTime };
}

/** A ledger naming `target` by pid, start time and group, as a supervisor would write it. */
const plantedLedger = (target: { pid: number; startTime: number }) =>
  `cfn-supervise-ledger 1\nsupervisor 1 1\nrun {"run_id":"planted","pid":${target.pid}}\npgid ${target.pid}\npid ${target.pid} ${target.startTime}\n`;

describe('kill -9 of the supervisor', () => {
  it('ends the whole tree within 2 s: agent, node child, setsid grandchild ignoring TERM, double-forked daemon', async () => {
    const { cwd, s, pids, tree } = await superviseTree();
    expect(tree.every(isAlive)).toBe(true);
    const killedAt = Date.now();
    s.child.kill('SIGKILL');
    await waitFor(() => tree.every((pid) => !isAlive(pid)), 10_000, 'the tree to be gone');
    expect(Date.now() - killedAt).toBeLessThan(2000);

    const next = await runCli([...FAST, '--', 'true'], { cwd });
    expect(next.code).toBe(0);
    expect(next.stderr.toString()).toMatch(/previous supervisor of this state dir \(pid \d+\) was lost; its run \S+ is recorded as supervisor-lost/);
    const runs = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ pid: pids.agent, exit: { reason: 'supervisor-lost' }, aborted: true });
    expect(runs[0]!.peak_mb as number).toBeGreaterThan(0);
    expect(runs[1]).toMatchObject({ exit: { reason: 'clean' } });
  });
});

describe('a ledger put in place of the one the supervisor keeps', () => {
  it('is never read by the watchdog: the state dir swapped for one with a planted ledger, then kill -9', async () => {
    const { cwd, s, tree } = await superviseTree();
    const target = bystander();
    // What another user would do if they could replace the state dir (refused up front when they can: see
    // state-dir.test.ts); here the folder is trusted and root itself swaps it.
    const state = path.join(cwd, '.cfn-supervise');
    renameSync(state, path.join(cwd, 'moved'));
    mkdirSync(state, { mode: 0o700 });
    writeFileSync(path.join(state, 'ledger'), plantedLedger(target), { mode: 0o600 });
    s.child.kill('SIGKILL');
    await waitFor(() => tree.every((pid) => !isAlive(pid)), 15_000, 'the tree to be gone');
    expect(isAlive(target.pid)).toBe(true);
  });

  it.each([
    ['owned by another user', (file: string) => chownSync(file, 65534, 65534)],
    ['readable by others', (file: string) => chmodSync(file, 0o644)],
    ['hard-linked', (file: string) => linkSync(file, `${file}.other`)],
  ])('is refused by cleanup and by the next start when %s: what it names lives', async (_what, spoil) => {
    const cwd = tempDir();
    const state = path.join(cwd, '.cfn-supervise');
    mkdirSync(state, { mode: 0o700 });
    const target = bystander();
    const ledger = path.join(state, 'ledger');
    writeFileSync(ledger, plantedLedger(target), { mode: 0o600 });
    spoil(ledger);
    for (const args of [['cleanup'], [...FAST, '--', 'true']]) {
      const r = await runCli(args, { cwd, env: { CFN_SUPERVISE_KILL_TIMEOUT: '1000' } });
      expect(r.code).toBe(2);
      expect(r.stderr.toString()).toMatch(/^cfn-supervise: \S+ledger (belongs to another user|has mode 0644|has 2 hard links)[^\n]*\n$/);
      expect(isAlive(target.pid)).toBe(true);
    }
  });
});

describe('a stopped watchdog', () => {
  it('is replaced by the supervisor on its tick, so a kill -9 of the supervisor still ends the tree', async () => {
    const { s, tree } = await superviseTree();
    const [old] = watchdogsOf(s.child.pid!);
    expect(old).toBeDefined();
    process.kill(old!, 'SIGSTOP');
    await waitFor(() => watchdogsOf(s.child.pid!).some((pid) => pid !== old) && !isAlive(old!), 20_000, 'a new watchdog in place of the stopped one');
    s.child.kill('SIGKILL');
    await waitFor(() => tree.every((pid) => !isAlive(pid)), 15_000, 'the tree to be gone');
  });
});

describe('cleanup with no supervisor running', () => {
  it('ends what a killed supervisor left (here its watchdog too was killed) and records the lost run', async () => {
    const { cwd, s, tree } = await superviseTree();
    // The worst case: the supervisor's whole session, its watchdog included, killed at once.
    const watchdog = descendantsOf(s.child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('watchdog.sh'));
    expect(watchdog).toBeDefined();
    process.kill(watchdog!, 'SIGKILL');
    s.child.kill('SIGKILL');
    // Not s.exited: the survivors still hold the supervisor's stdout and stderr open.
    await waitFor(() => !isAlive(s.child.pid!), 10_000, 'the supervisor to die');
    expect(tree.filter(isAlive).length).toBeGreaterThan(0);

    // The grace before SIGKILL comes from the configuration, as a supervisor's would (here 1 s, not 10 s).
    const r = await runCli(['cleanup', '--json'], { cwd, env: { CFN_SUPERVISE_KILL_TIMEOUT: '1000' } });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.toString()) as { lostRun: string; ended: { pid: number }[]; summary: string };
    expect(result.summary).toMatch(/^no supervisor running in .*: recorded the lost run \S+ and ended \d+ of its processes/);
    expect(tree.filter(isAlive)).toEqual([]);
    const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(run).toMatchObject({ run_id: result.lostRun, exit: { reason: 'supervisor-lost' } });
    expect(existsSync(path.join(cwd, '.cfn-supervise/ledger'))).toBe(false);
  });
});

describe('a broken stderr', () => {
  it('neither kills the supervisor nor orphans the agent: `2>&1 | true`', async () => {
    const cwd = tempDir();
    // stderr is a pipe whose reader exits at once; the first notice (a warning at 1 MB) meets EPIPE.
    const child = spawnTracked(process.execPath, [CLI, ...FAST, '--no-probe', '--warning', '1', '--', 'sleep', '4'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.destroy();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const alerts = path.join(cwd, '.cfn-supervise/alerts.jsonl');
    await waitFor(() => existsSync(alerts) && readFileSync(alerts, 'utf8').includes('"level":"warning"'), 15_000, 'the warning');
    expect(await exited).toEqual({ code: 0, signal: null });
    const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(run).toMatchObject({ exit: { reason: 'clean' } });
  });
});
