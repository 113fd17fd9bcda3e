// One supervisor per state dir, even when two start at the same instant beside a stale socket.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { built, runNode, type NodeChild } from './helpers.js';


/** Takes the lock when told `go` on stdin, says how that went, and holds the lock until killed. */
const LOCKER = `
import { lockStateDir } from ${built('common/statedir.js')};
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  try {
    lockStateDir(process.argv[1]);
    process.stdout.write(JSON.stringify({ locked: process.pid }) + '\\n');
    setInterval(() => {}, 60_000);
  } catch (err) {
    process.stdout.write(JSON.stringify({ refused: err.message, name: err.name }) + '\\n');
    process.exit(3);
  }
});
`;

type Outcome = { locked: number } | { refused: string; name: string };
const outcome = (c: NodeChild) => c.lines().slice(1).map((l) => JSON.parse(l) as Outcome)[0];

function stateDirWithStaleSocket(): string {
  const stateDir = path.join(tempDir('cfn-lock-'), 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  writeFileSync(path.join(stateDir, 'control.sock'), 'left by a supervisor that died');
  return stateDir;
}

async function race(stateDir: string, n: number): Promise<{ children: NodeChild[]; outcomes: Outcome[] }> {
  const children = Array.from({ length: n }, () => runNode(LOCKER, [stateDir]));
  await waitFor(() => children.every((c) => c.lines()[0] === 'ready'), 30_000, 'the lockers to start');
  for (const c of children) c.child.stdin!.write('go\n');
  await waitFor(() => children.every((c) => outcome(c)), 30_000, 'every locker to report');
  return { children, outcomes: children.map((c) => outcome(c)!) };
}

describe('lockStateDir', () => {
  it('lets exactly one of two processes started together hold the state dir, 20 times out of 20', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const stateDir = stateDirWithStaleSocket();
      const { children, outcomes } = await race(stateDir, 2);
      const winners = outcomes.flatMap((o) => ('locked' in o ? [o.locked] : []));
      expect({ trial, winners: winners.length }).toEqual({ trial, winners: 1 });
      const loser = outcomes.find((o) => 'refused' in o) as { refused: string; name: string };
      expect(loser).toEqual({ refused: `another supervisor (pid ${winners[0]}) is running in ${stateDir}`, name: 'StateDirBusy' });
      for (const c of children) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    }
  }, 180_000);

  it('is free again once its holder is killed: a stale lock file never blocks', async () => {
    const stateDir = stateDirWithStaleSocket();
    const first = await race(stateDir, 1);
    const holder = (first.outcomes[0] as { locked: number }).locked;
    const blocked = await race(stateDir, 1);
    expect(blocked.outcomes[0]).toMatchObject({ refused: `another supervisor (pid ${holder}) is running in ${stateDir}` });
    first.children[0]!.child.kill('SIGKILL');
    await first.children[0]!.exited;
    const next = await race(stateDir, 1);
    expect(next.outcomes[0]).toEqual({ locked: next.children[0]!.child.pid });
  });
});

describe('two supervisors started together on one state dir', () => {
  it('runs exactly one, 20 times out of 20; the other says who holds the state dir', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const stateDir = stateDirWithStaleSocket();
      const cwd = path.dirname(stateDir);
      const args = ['--state-dir', stateDir, '--min-free', '0', '--', 'node', '-e', 'setTimeout(() => {}, 3000)'];
      const both = [startCli(args, { cwd }), startCli(args, { cwd })];
      const loser = await Promise.race(both.map((s, i) => s.exited.then(({ code }) => ({ i, code }))));
      const winner = both[1 - loser.i]!;
      expect({ trial, code: loser.code }).toEqual({ trial, code: 1 });
      expect(both[loser.i]!.stderr().toString()).toBe(`cfn-supervise: another supervisor (pid ${winner.child.pid}) is running in ${stateDir}\n`);
      expect(isAlive(winner.child.pid!)).toBe(true);
      winner.child.kill('SIGTERM');
      await winner.exited;
    }
  }, 180_000);
});

describe('a supervisor whose state dir is emptied under it (rm -rf state/*)', () => {
  it('takes its lock again, so that a second supervisor on the state dir is still refused', async () => {
    const stateDir = path.join(tempDir('cfn-lock-emptied-'), 'state');
    const cwd = path.dirname(stateDir);
    const args = ['--state-dir', stateDir, '--min-free', '0', '--', 'node', '-e', 'setInterval(() => {}, 1000)'];
    const first = startCli(args, { cwd });
    const lockFile = path.join(stateDir, 'lock');
    const holder = () => (existsSync(lockFile) ? readFileSync(lockFile, 'utf8').trim() : '');
    await waitFor(() => holder() === String(first.child.pid) && existsSync(path.join(stateDir, 'control.sock')), 30_000, 'the first supervisor to start');
    const before = statSync(lockFile).ino;
    for (const name of readdirSync(stateDir)) rmSync(path.join(stateDir, name), { recursive: true, force: true });
    expect(existsSync(lockFile)).toBe(false);
    await waitFor(() => holder() === String(first.child.pid), 30_000, 'the lock file to be back').catch((err: Error) => {
      const log = path.join(stateDir, 'supervisor.log');
      const seen = {
        holder: holder(),
        alive: isAlive(first.child.pid!),
        files: readdirSync(stateDir),
        stderr: first.stderr().toString(),
        log: existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-6) : [],
      };
      throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
    });
    expect(statSync(lockFile).ino).not.toBe(before);

    const second = startCli(args, { cwd });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr().toString()).toBe(`cfn-supervise: another supervisor (pid ${first.child.pid}) is running in ${stateDir}\n`);
    expect(isAlive(first.child.pid!)).toBe(true);
    expect(first.stderr().toString()).toBe('');
    first.child.kill('SIGTERM');
    await first.exited;
  });

  it('listens on its sockets again and writes its journals, the run record included, into new files', async () => {
    const stateDir = path.join(tempDir('cfn-sockets-emptied-'), 'state');
    const cwd = path.dirname(stateDir);
    // A node child every second, each living three: the ones started after the rm must still be probed.
    const agent = "setInterval(() => require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 3000)'], { stdio: 'ignore' }), 1000)";
    const first = startCli(['--state-dir', stateDir, '--interval', '200', '--min-free', '0', '--', 'node', '-e', agent], { cwd });
    const cli = (args: string[]) => runCli([...args, '--state-dir', stateDir], { cwd });
    const probed = async () => {
      const r = await cli(['status', '--json']);
      if (r.code !== 0) return [];
      const { processes } = JSON.parse(r.stdout.toString()) as { processes: { pid: number; heap_used_mb?: number }[] };
      return processes.filter((p) => p.heap_used_mb !== undefined).map((p) => p.pid);
    };
    await waitFor(async () => (await probed()).length >= 2, 30_000, 'probed node processes');
    const before = new Set(await probed());
    for (const name of readdirSync(stateDir)) rmSync(path.join(stateDir, name), { recursive: true, force: true });

    await waitFor(async () => (await probed()).some((pid) => !before.has(pid)), 30_000, 'status to answer and list a node process probed after the rm');
    first.child.kill('SIGTERM');
    await first.exited;
    const runs = readFileSync(path.join(stateDir, 'runs.jsonl'), 'utf8').trim().split('\n');
    expect(runs).toHaveLength(1);
    expect(JSON.parse(runs[0]!)).toMatchObject({ exit: { signal: 'SIGTERM' } });
    expect(readFileSync(path.join(stateDir, 'supervisor.log'), 'utf8')).toMatch(/the control socket was removed; listening on it again/);
  });
});
