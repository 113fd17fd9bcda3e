// The per-run capture cap under parallel requests, against a real supervised tree: the cap is a promise about
// the disk, so it must hold when requests overlap, not only when they come one after another.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { fixture, runCli, startCli, tempDir, untilProcess, waitFor } from '../helpers/cli.js';

/** A supervised agent under `--max-captures cap`, once its probe answers heap reads. */
async function supervisedWithCap(prefix: string, cap: number) {
  const base = tempDir(prefix);
  const stateDir = path.join(base, 'state');
  startCli(['--state-dir', stateDir, '--max-captures', String(cap), '--interval', '200', '--min-free', '0', '--', process.execPath, fixture('control/agent.cjs')], { cwd: base });
  const client = new ControlClient(stateDir);
  await waitFor(() => existsSync(client.socketPath), 20_000, 'the control socket');
  await untilProcess(stateDir, (p) => p.heap_used_mb !== undefined, 30_000, 'a probed process');
  return { base, stateDir, client };
}

describe('--max-captures under parallel requests', () => {
  it('--max-captures 2, six captures asked at once: exactly two profiles written, four clear refusals', async () => {
    const { base, stateDir } = await supervisedWithCap('cfn-capture-cap-', 2);
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

describe('a capture whose client goes away', () => {
  it('capture --seconds 5 interrupted after its first second: no profile is written, and its slot of the cap is free again', async () => {
    const { base, stateDir, client } = await supervisedWithCap('cfn-capture-cancel-', 1);
    // What the CLI does, cut off as Ctrl-C cuts it: a streamed capture, its connection closed once sampling runs.
    const socket = connect(client.socketPath);
    let received = '';
    socket.on('data', (b: Buffer) => (received += b.toString()));
    const body = JSON.stringify({ kind: 'profile', seconds: 5 });
    socket.write(`POST /capture HTTP/1.1\r\nHost: control\r\nAccept: application/x-ndjson\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await waitFor(() => /"phase":"sampling","done":1/.test(received), 20_000, 'the sampling window to run');
    socket.destroy();

    const log = path.join(stateDir, 'supervisor.log');
    await waitFor(() => /"msg":"capture not written"/.test(readFileSync(log, 'utf8')), 20_000, 'the capture to be cancelled');
    expect(readFileSync(log, 'utf8')).toMatch(/"err":"[^"]*went away[^"]*","msg":"capture not written"/);
    expect(readdirSync(path.join(stateDir, 'captures')).filter((f) => f.endsWith('.heapprofile'))).toEqual([]);
    const again = await runCli(['capture', '--seconds', '1', '--state-dir', stateDir], { cwd: base });
    expect(again.code).toBe(0);
    expect(readdirSync(path.join(stateDir, 'captures')).filter((f) => f.endsWith('.heapprofile'))).toHaveLength(1);
  });
});
