// The fallback closer where the target has no /proc (macOS; here a preload makes every /proc read in the target
// fail as it does there): under the portable backend the session keeps a lease on it, so a session idle past the
// closer's looks keeps its inspector, and once the session's process is killed the closer still closes it.
import { describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/cli.js';
import { driver, listeningPorts, target } from './helpers.js';

const samples = (out: string) => out.split('\n').filter((l) => /^\s+\d+s\s+rss \d/.test(l)).length;

describe('the inspector closer without /proc (portable backend)', () => {
  it('keeps the inspector of a session idle past two looks, and closes it once the session is killed', async () => {
    const t = await target('leak.cjs', [], { preload: 'no-proc.cjs' });
    // 8 s between samples: four of the closer's 2 s looks with nothing but the lease between them.
    const m = driver('monitor', { pid: t.pid, durationMs: 300_000, intervalMs: 8000, json: false, captureOnGrowth: false, capturesDir: tempDir() }, { CFN_SUPERVISE_BACKEND: 'portable' });
    await waitFor(() => listeningPorts(t.pid).length === 1, 20_000, 'the inspector to open');
    const [port] = listeningPorts(t.pid);
    await waitFor(() => samples(m.stdout()) >= 2, 30_000, 'a second sample, 8 s after the first');
    expect(listeningPorts(t.pid)).toEqual([port]);
    // Gone without closing from inside: the lease lapses and the closer acts.
    m.child.kill('SIGKILL');
    await waitFor(() => !listeningPorts(t.pid).includes(port!), 20_000, 'the closer to close the port');
  });
});
