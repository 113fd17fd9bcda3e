// SIGUSR2, the seeds' "dump a profile" signal (`kill -USR2 $pid`). Forwarded, as every signal is, it kills a node
// agent that has no handler for it; with --capture-signal USR2 it is a capture of the agent instead.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { isAlive, readJsonl, runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';

const AGENT = "console.log('agent ' + process.pid); setInterval(() => {}, 1000)";

async function supervised(extra: string[]) {
  const cwd = tempDir('cfn-usr2-');
  const stateDir = path.join(cwd, 'state');
  const s = startCli(['--state-dir', stateDir, '--min-free', '0', ...extra, '--', 'node', '-e', AGENT], { cwd });
  const agent = Number(await waitFor(() => /^agent (\d+)$/m.exec(s.stdout().toString())?.[1], 30_000, 'the agent'));
  // Its probe registered: a capture can reach it.
  await waitFor(async () => {
    const r = await runCli(['status', '--json', '--state-dir', stateDir], { cwd });
    const status = r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: { pid: number; instrumented: string }[] }) : undefined;
    return status?.processes.some((p) => p.pid === agent && p.instrumented === 'probe');
  }, 30_000, 'the probe');
  return { s, agent, stateDir };
}

it('forwards SIGUSR2 by default: a node agent without a handler dies of it, recorded as killed', async () => {
  const { s, stateDir } = await supervised([]);
  s.child.kill('SIGUSR2');
  const { code, signal } = await s.exited;
  expect(signal ?? code).toBe('SIGUSR2');
  expect(readJsonl(path.join(stateDir, 'runs.jsonl')).at(-1)?.exit).toEqual({ code: 140, signal: 'SIGUSR2', reason: 'killed' });
});

it('with --capture-signal USR2, captures the agent instead and leaves it running', async () => {
  const { s, agent, stateDir } = await supervised(['--capture-signal', 'USR2']);
  s.child.kill('SIGUSR2');
  const line = await waitFor(() => /^cfn-supervise: SIGUSR2: .*$/m.exec(s.stderr().toString())?.[0], 30_000, 'the capture');
  expect(line).toMatch(new RegExp(`^cfn-supervise: SIGUSR2: captured pid ${agent}( \\(.*\\))?: \\S+\\.heapprofile$`));
  const captures = readdirSync(path.join(stateDir, 'captures')).filter((f) => f.endsWith('.heapprofile'));
  expect(captures).toHaveLength(1);
  expect(line).toContain(captures[0]);
  expect(isAlive(agent)).toBe(true);
  s.child.kill('SIGTERM');
  await s.exited;
  expect(readJsonl(path.join(stateDir, 'runs.jsonl')).at(-1)).toMatchObject({ exit: { reason: 'stopped' }, captures: [path.join(stateDir, 'captures', captures[0]!)] });
});

it('refuses a signal it cannot capture on in one line', async () => {
  const cwd = tempDir('cfn-usr2-');
  const r = await runCli(['--capture-signal', 'HUP', '--', 'node', '-e', '0'], { cwd });
  expect(r.code).toBe(2);
  expect(r.stderr.toString()).toMatch(/^cfn-supervise: --capture-signal: expected one of off, USR2, got 'HUP'\n$/);
});
