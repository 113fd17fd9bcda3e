// Issue 3's acceptance through the CLI: `cfn-supervise -- npm exec <bin>` from a local folder, whose node
// process starts a node grandchild through a shell: every node process registers and has heap statistics.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLI, fixture, isAlive, killQuietly, startCli, tempDir, waitFor } from './helpers/cli.js';

interface Proc {
  pid: number;
  argv?: string[];
  heap_used_mb?: number;
  heap_limit_mb?: number;
}

/** `status --json` as a real subcommand process; nothing while the supervisor is not answering yet. */
function status(cwd: string): Proc[] {
  try {
    return (JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json'], { cwd, encoding: 'utf8', stdio: 'pipe' })) as { processes: Proc[] }).processes;
  } catch {
    return [];
  }
}

it('sees every node process of an npm exec tree, through the shells, with heap statistics', async () => {
  const project = tempDir();
  mkdirSync(path.join(project, 'node_modules/.bin'), { recursive: true });
  symlinkSync(fixture('probe/tree'), path.join(project, 'node_modules/cfn-probe-tree'));
  symlinkSync('../cfn-probe-tree/bin.js', path.join(project, 'node_modules/.bin/cfn-probe-tree'));
  const s = startCli(['--min-free', '0', '--heap-limit', '300', '--interval', '200', '--', 'npm', 'exec', '--offline', '--yes', 'cfn-probe-tree'], { cwd: project });
  const ends = (p: Proc, pattern: RegExp) => p.argv?.some((a) => pattern.test(a)) ?? false;
  let seen: Proc[] = [];
  let last: Proc[] = [];
  try {
    seen = await waitFor(
      () => {
        const procs = (last = status(project));
        const node = procs.filter((p) => p.heap_used_mb !== undefined);
        const complete = [/\/npm$/, /\.bin\/cfn-probe-tree$/, /grandchild\.js$/].every((re) => node.some((p) => ends(p, re)));
        return complete && procs;
      },
      30_000,
      'npm, the bin and the grandchild, each with heap statistics',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(last.map((p) => [p.pid, p.argv, p.heap_used_mb]))}`);
    });
    for (const p of seen.filter((x) => x.heap_used_mb !== undefined)) expect(p.heap_limit_mb).toBe(300);
    // The shells between npm and the bin, and between the bin and the grandchild, are watched too (RSS only).
    expect(seen.some((p) => p.heap_used_mb === undefined)).toBe(true);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
    for (const p of seen) killQuietly(p.pid);
  }
  for (const p of seen) expect(isAlive(p.pid)).toBe(false);
  expect(s.stderr().toString()).not.toMatch(/Debugger|inspector/i);
});

it('follows a process through exec: argv is read again when the program changes', async () => {
  const cwd = tempDir();
  const s = startCli(['--min-free', '0', '--interval', '100', '--no-probe', '--restart', 'never', '--', 'sh', '-c', 'sleep 1; exec tail -f /dev/null'], { cwd });
  try {
    await waitFor(() => status(cwd).some((p) => p.argv?.[0] === 'sh'), 15_000, 'the shell before its exec');
    await waitFor(() => status(cwd).some((p) => p.argv?.join(' ') === 'tail -f /dev/null'), 15_000, 'tail after the exec');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});
