// The per-run capture cap under parallel requests, against a real supervised tree: the cap is a promise about
// the disk, so it must hold when requests overlap, not only when they come one after another.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { fixture, runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';

describe('--max-captures under parallel requests', () => {
  it('--max-captures 2, six captures asked at once: exactly two profiles written, four clear refusals', async () => {
    const base = tempDir('cfn-capture-cap-');
    const stateDir = path.join(base, 'state');
    startCli(['--state-dir', stateDir, '--max-captures', '2', '--interval', '200', '--min-free', '0', '--', process.execPath, fixture('control/agent.cjs')], { cwd: base });
    const client = new ControlClient(stateDir);
    await waitFor(() => existsSync(client.socketPath), 20_000, 'the control socket');
    await waitFor(
      async () => (await client.request<{ processes: { heap_used_mb?: number }[] }>('GET', '/processes')).processes.some((p) => p.heap_used_mb !== undefined),
      30_000,
      'a probed process',
    );
    // Five-second windows: all six overlap, however slowly the six commands start.
    const results = await Promise.all(Array.from({ length: 6 }, () => runCli(['capture', '--seconds', '5', '--state-dir', stateDir], { cwd: base })));
    const written = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code !== 0);
    expect(written).toHaveLength(2);
    expect(refused).toHaveLength(4);
    for (const r of refused) expect(r.stderr.toString()).toMatch(/^cfn-supervise: the run's capture cap \(--max-captures 2\) is reached\n$/);
    const profiles = readdirSync(path.join(stateDir, 'captures')).filter((f) => f.endsWith('.heapprofile'));
    expect(profiles).toHaveLength(2);
  });
});
