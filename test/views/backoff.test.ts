// During a restart's backoff no agent runs: status must say so (restarting in N s), not show the dead agent's
// pid and its last RSS as if it were alive.
import { describe, expect, it } from 'vitest';
import type { ProcessView, StatusView } from '../../src/supervisor/control/protocol.js';
import { fixture, isAlive, waitFor } from '../helpers/cli.js';
import { startSupervised } from './supervised.js';


type StatusJson = StatusView & { processes: ProcessView[] };

describe('status during a restart backoff', () => {
  it('shows the agent as not running, restarting in N s, with no stale pid', async () => {
    const s = await startSupervised([fixture('views/crash-soon.cjs'), '3000'], ['--restart', 'always', '--backoff', '30s', '--min-uptime', '1s']);
    const status = async () => JSON.parse((await s.cli(['status', '--json'])).stdout.toString()) as StatusJson;
    const running = await waitFor(async () => {
      const st = await status();
      return st.processes.some((p) => p.pid === st.agent.pid) && st;
    }, 20_000, 'the agent sampled');
    const dead = running.agent.pid!;
    const backoff = await waitFor(async () => {
      const st = await status();
      return st.agent.phase === 'backoff' && st;
    }, 20_000, 'the backoff');
    expect(isAlive(dead)).toBe(false);
    expect(backoff.agent.pid).toBeUndefined();
    expect(backoff.processes.map((p) => p.pid)).not.toContain(dead);
    expect(backoff.tree.processes).toBe(0);
    expect(backoff.agent.restart_in_s).toBeGreaterThan(0);
    expect(backoff.agent.restart_in_s).toBeLessThanOrEqual(30);
    const text = (await s.cli(['status'])).stdout.toString();
    expect(text).toMatch(/^agent {7}backoff, restarting in \d+s, 1 restart$/m);
    expect(text).not.toContain(String(dead));
  }, 90_000);
});
