// A process first seen between fork and exec shows its parent's command line; exec may keep its comm (node
// starting node, sh starting sh), so the sampler must not take the parent's argv for the child's for good.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ProcessTree } from '../src/supervisor/proc/tree.js';
import { Sampler } from '../src/supervisor/watch/sampler.js';
import { PORTABLE_BACKEND, spawnTracked, tempDir, waitFor } from './helpers/cli.js';

// The linux backend's: the portable backend reads argv from ps, joined by spaces (an argument holding one comes back split).
it.skipIf(PORTABLE_BACKEND)("reads a child's command line again after an exec that kept its comm", async () => {
  const fifo = path.join(tempDir(), 'go');
  execFileSync('mkfifo', [fifo]);
  // The subshell is a fork of the parent (same argv, same comm) until the fifo opens; then it execs another sh.
  const script = `( read go < ${fifo}; exec sh -c 'sleep 60; :' ) & wait`;
  const parent = spawnTracked('sh', ['-c', script], { stdio: 'ignore' });
  const tree = new ProcessTree();
  tree.beginRun(parent.pid!);
  const sampler = new Sampler(tree, undefined, { historySize: 10, trendWindowMs: () => 300_000 });
  const child = () => sampler.tick(parent.pid).processes.find((p) => p.ppid === parent.pid && p.comm === 'sh');
  const forked = await waitFor(child, 20_000, 'the forked subshell');
  expect(forked.argv).toEqual(['sh', '-c', script]);
  writeFileSync(fifo, 'go\n');
  await waitFor(() => child()?.argv?.[2] === 'sleep 60; :', 20_000, 'the exec seen');
});
