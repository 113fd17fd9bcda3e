// With --no-agent-log the agent writes into the supervisor's own stdout. When that is a pipe, the supervisor's node
// makes its side non-blocking: the agent must get a description of its own, blocking as the user gave it, or a
// writer that lags behind its reader fails with EAGAIN.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { BIN, PORTABLE_BACKEND, fixture, spawnTracked, tempDir, waitFor } from './helpers/cli.js';

/** Whether `pid` sleeps in a pipe write (its reader paused) or is gone. */
function blockedOrGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('pipe');
  } catch {
    return true;
  }
}

// Linux only: a pipe is opened again through /proc/self/fd; macOS's /dev/fd duplicates the description instead.
it.skipIf(PORTABLE_BACKEND)('an agent writing synchronously into a piped stdout whose reader lags blocks, as it would bare, and loses nothing', async () => {
  const dir = tempDir();
  const [gate, out, err] = ['gate', 'out', 'err'].map((name) => path.join(dir, name)) as [string, string, string];
  execFileSync('mkfifo', [gate]);
  // The reader reads nothing until the gate opens, as a paused pager would.
  const line = `set -o pipefail; ${BIN} --no-agent-log --min-free 0 --restart never -- node ${fixture('lifecycle/write-sync.cjs')} 2>${err} | { read go < ${gate}; cat; } > ${out}`;
  const shell = spawnTracked('bash', ['-c', line], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => shell.once('exit', resolve));
  const pid = await waitFor(() => existsSync(err) && (Number(/pid (\d+)/.exec(readFileSync(err, 'utf8'))?.[1]) || undefined), 30_000, "the agent's pid");
  await waitFor(() => blockedOrGone(pid), 30_000, 'the agent blocked on its full pipe');
  writeFileSync(gate, 'go\n');
  expect(await exited).toBe(0);
  expect(readFileSync(err, 'utf8')).not.toMatch(/EAGAIN/);
  expect(readFileSync(err, 'utf8')).toMatch(/all written/);
  expect(statSync(out).size).toBe(4 * 1024 * 1024);
}, 60_000);
