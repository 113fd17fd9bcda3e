// The watchdog acts only on what its own supervisor sent it over the pipe, and only on processes that are still
// the ones named: a pid or group recycled since (a stopped watchdog resumed late) is never signalled.
import path from 'node:path';
import { expect, it } from 'vitest';
import { readStat } from '../../src/platform/linux/stat.js';
import { descendantsOf, isAlive, ROOT, spawnTracked, waitFor } from '../helpers/cli.js';
const SCRIPT = path.join(ROOT, 'dist/platform/watchdog.sh');

/** A process in a group of its own; `sh -c` with a child of its own when `withChild`. */
function sleeper(withChild = false) {
  const child = withChild
    ? spawnTracked('/bin/sh', ['-c', 'sleep 1000 & wait'], { detached: true, stdio: 'ignore' })
    : spawnTracked('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  return { pid: child.pid!, startTime: readStat(child.pid!)!.startTime };
}

it('under dash, signals only the pids and the group whose start times still match', async () => {
  const recycled = sleeper(true);
  const ours = sleeper();
  // The recycled pid's child must not be taken for one of ours because of its parent.
  await waitFor(() => descendantsOf(recycled.pid).length === 2, 10_000, "the recycled pid's child");
  const watchdog = spawnTracked('dash', [SCRIPT, '2'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  watchdog.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => watchdog.once('close', resolve));
  // `recycled` stands for a pid (and group) reused since: its start time is not the one sent.
  watchdog.stdin.end(['targets', `pgid ${recycled.pid}`, `pid ${recycled.pid} ${recycled.startTime + 1}`, `pid ${ours.pid} ${ours.startTime}`, 'end', ''].join('\n'));
  expect(await exited).toBe(0);
  expect(stderr).toBe('');
  expect(isAlive(ours.pid)).toBe(false);
  expect(isAlive(recycled.pid)).toBe(true);
  expect(descendantsOf(recycled.pid).filter(isAlive)).toHaveLength(2);
});

it('leaves without touching anything when its supervisor says bye', async () => {
  const ours = sleeper();
  const watchdog = spawnTracked('dash', [SCRIPT, '2'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => watchdog.once('close', resolve));
  watchdog.stdin.end(['targets', `pgid ${ours.pid}`, `pid ${ours.pid} ${ours.startTime}`, 'end', 'bye', ''].join('\n'));
  expect(await exited).toBe(0);
  expect(isAlive(ours.pid)).toBe(true);
});
