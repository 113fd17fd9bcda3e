// Issue 10, items 5 and 19: over an interactive agent, the supervisor prints only what the user must see now
// (warning and worse, with the capture's top site) and nothing for what another terminal asked for.
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLI, fixture, runCli, tempDir, waitFor } from '../helpers/cli.js';
import { Tmux } from '../helpers/tmux.js';

it('shows alerts and the top allocation site on a terminal, not the capture bookkeeping', async () => {
  const cwd = tempDir('cfn-notices-');
  const t = new Tmux('notices');
  t.start(`cd ${cwd} && ${process.execPath} ${CLI} --min-free 0 --interval 200 --heap-limit 256 --restart never -- node ${fixture('watch/fast-leak.cjs')}; echo "exited $?"; sleep 60`);
  try {
    const screen = await waitFor(() => /exited \d+/.test(t.screen()) && t.screen(), 60_000, 'the agent to die');
    expect(screen).toMatch(/cfn-supervise: \[critical\] agent \(pid \d+\): heap at \d+% of its old-space limit/);
    // The first capture is the trend's (a leak this fast is seen rising well before the heap is critical).
    expect(screen).toMatch(/cfn-supervise: pid \d+ \(heap-(trend|critical)\): top allocation site leakFast .*fast-leak\.cjs:\d+/);
    expect(screen).not.toMatch(/capture written/);
  } finally {
    t.kill();
  }
});

it('prints nothing in the agent’s terminal for a capture asked for from another terminal', async () => {
  const cwd = tempDir('cfn-notices-manual-');
  const stateDir = path.join(cwd, 'state');
  const t = new Tmux('notices-manual');
  t.start(`cd ${cwd} && ${process.execPath} ${CLI} --min-free 0 --interval 200 --state-dir ${stateDir} -- node -e "console.log('agent ready'); setInterval(() => {}, 1000)"`);
  try {
    await waitFor(() => t.screen().includes('agent ready'), 20_000, 'the agent');
    const capture = await waitFor(async () => {
      const r = await runCli(['capture', '--seconds', '1', '--state-dir', stateDir], { cwd });
      return r.code === 0 && r;
    }, 30_000, 'a capture');
    expect(capture.stdout.toString()).toMatch(/\.heapprofile\n$/);
    expect(t.screen().trim()).toBe('agent ready');
  } finally {
    t.kill();
  }
});
