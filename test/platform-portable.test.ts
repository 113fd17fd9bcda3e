// Issue 28: the portable backend, exercised on Linux, reads no other process's /proc files: what it knows of them
// comes from ps and lsof (which on Linux read /proc themselves, in their own processes). strace follows the
// supervisor's threads; the programs it starts are told apart by their execve.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLI, fixture, isAlive, killQuietly, readJsonl, spawnTracked, startCli, tempDir, track, waitFor } from './helpers/cli.js';

// strace slows every program the supervisor runs: the deadlines are the sum of generous waits.
const TIMEOUT_MS = 90_000;

interface Status {
  supervisor: { pid: number };
  processes: { pid: number; argv?: string[]; fds?: number }[];
}

function status(cwd: string): Status | undefined {
  try {
    return JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json'], { cwd, encoding: 'utf8', stdio: 'pipe' })) as Status;
  } catch {
    return undefined;
  }
}

/** The /proc files of other processes that the traced process (not the programs it ran) opened or read links of. */
function foreignProcReads(trace: string, ownPid: number): string[] {
  const lines = trace.split('\n');
  const ran = new Set<string>();
  for (const line of lines) {
    const m = /^(\d+)\s+execve\(/.exec(line);
    if (m && Number(m[1]) !== ownPid && !line.includes('= -1')) ran.add(m[1]!);
  }
  const tids = new Set(lines.map((line) => /^(\d+)\s/.exec(line)?.[1]).filter((tid): tid is string => tid !== undefined && !ran.has(tid)));
  return lines.filter((line) => {
    const m = /^(\d+)\s+\w+\(.*"\/proc\/(\d+|net)\//.exec(line);
    return m !== null && !ran.has(m[1]!) && (m[2] === 'net' || !tids.has(m[2]!));
  });
}

it.runIf(process.platform === 'linux' && existsSync('/usr/bin/strace'))("opens no other process's /proc files under CFN_SUPERVISE_BACKEND=portable", async () => {
  const cwd = tempDir();
  const traceFile = path.join(cwd, 'trace');
  const pidsFile = path.join(cwd, 'pids.json');
  const strace = spawnTracked('strace', ['-f', '-qq', '-e', 'trace=open,openat,readlink,readlinkat,execve', '-o', traceFile, process.execPath, CLI, '--min-free', '0', '--interval', '100', '--', 'node', fixture('faults/tree.cjs'), pidsFile], {
    cwd,
    env: { ...process.env, CFN_SUPERVISE_BACKEND: 'portable' },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => strace.once('close', resolve));
  const pids = await waitFor(() => existsSync(pidsFile) && (JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, number>), 30_000, 'the tree');
  for (const pid of Object.values(pids)) track(pid);
  // The child seen with its argv, and lsof run since (its slower cadence come round): every reader has run.
  const seen = await waitFor(() => {
    const s = status(cwd);
    return s && s.processes.some((p) => p.pid === pids.child && p.argv) && s;
  }, 20_000, 'the child with its argv');
  const lsofRuns = () => readFileSync(traceFile, 'utf8').match(/execve\("[^"]*\/lsof"/g)?.length ?? 0;
  const before = lsofRuns();
  await waitFor(() => lsofRuns() > before, 20_000, 'lsof at the slower cadence');
  process.kill(seen.supervisor.pid, 'SIGTERM');
  await waitFor(() => !isAlive(seen.supervisor.pid), 30_000, 'the supervisor to stop');
  // strace ends with the last process it follows: the daemon the portable backend may not have found, too.
  for (const pid of Object.values(pids)) killQuietly(pid);
  await exited;
  const trace = readFileSync(traceFile, 'utf8');
  expect(trace).toMatch(/execve\("[^"]*\/ps"/);
  expect(foreignProcReads(trace, seen.supervisor.pid)).toEqual([]);
  // No subreaper is how this backend works, not a fault to warn of at every start.
  expect(readJsonl(path.join(cwd, '.cfn-supervise', 'supervisor.log')).filter((l) => String(l.msg).includes('subreaper'))).toEqual([]);
}, TIMEOUT_MS);

it.runIf(process.platform === 'linux')('a ps that fails for a while makes no process of the run look gone', async () => {
  const cwd = tempDir();
  const pidsFile = path.join(cwd, 'pids.json');
  // A ps that exits 1 while the flag file exists, as one that cannot fork or is killed at its timeout fails.
  const bin = path.join(cwd, 'bin');
  const flag = path.join(cwd, 'ps-fails');
  const calls = path.join(cwd, 'ps-calls');
  mkdirSync(bin);
  const realPs = execFileSync('sh', ['-c', 'command -v ps'], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(bin, 'ps'), `#!/bin/sh\nif [ -e '${flag}' ]; then echo failed >> '${calls}'; exit 1; fi\necho ran >> '${calls}'\nexec ${realPs} "$@"\n`, { mode: 0o755 });
  const s = startCli(['--min-free', '0', '--interval', '100', '--', 'node', fixture('faults/tree.cjs'), pidsFile], {
    cwd,
    env: { CFN_SUPERVISE_BACKEND: 'portable', PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  const pids = await waitFor(() => existsSync(pidsFile) && (JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, number>), 30_000, 'the tree');
  const run = Object.values(pids);
  for (const pid of run) track(pid);
  const count = (what: string) => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l === what).length : 0);
  const log = path.join(cwd, '.cfn-supervise', 'supervisor.log');
  await waitFor(() => existsSync(log) && readJsonl(log).filter((l) => l.msg === 'node process registered').length >= 2, 30_000, 'the agent and its child registered');
  writeFileSync(flag, '');
  await waitFor(() => count('failed') >= 10, 30_000, 'ten failed ps runs');
  rmSync(flag);
  const ran = count('ran');
  await waitFor(() => count('ran') >= ran + 10, 30_000, 'ten working ps runs after');
  const ended = path.join(cwd, '.cfn-supervise', 'processes.jsonl');
  const records = () => (existsSync(ended) ? readJsonl(ended).map((r) => r.pid as number) : []);
  expect(records().filter((pid) => run.includes(pid))).toEqual([]);
  s.child.kill('SIGTERM');
  await s.exited;
  for (const pid of run) killQuietly(pid);
  // Each process of the run ended once: none was taken for gone while ps failed and then seen again.
  expect(records().filter((pid, i, all) => all.indexOf(pid) !== i)).toEqual([]);
}, TIMEOUT_MS);
