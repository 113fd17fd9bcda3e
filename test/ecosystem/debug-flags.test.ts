// A user debugging their agent sets NODE_OPTIONS="--inspect… --heap-prof --require …", as the seeds do. Those
// flags are for the agent: the supervisor's own node starts without them (it would take the port, write a
// profile of itself, load the user's preload, listen on 0.0.0.0), and every node process of the tree gets them.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { listenersOf } from '../../src/platform/linux/sockets.js';
import { fixture, freePort, startCli, tempDir, waitFor } from '../helpers/cli.js';

const AGENT = fixture('ecosystem/debug-agent.cjs');

interface AgentLine { pid: number; nodeOptions: string; ours: string; inspector: string | null }

async function superviseWith(nodeOptions: string, cwd: string) {
  const env = { NODE_OPTIONS: nodeOptions, PRELOAD_LOG: path.join(cwd, 'preloads') };
  const s = startCli(['--state-dir', path.join(cwd, 'state'), '--min-free', '0', '--', 'node', AGENT], { cwd, env });
  const line = await waitFor(() => s.stdout().toString().split('\n').find((l) => l.startsWith('agent ')), 30_000, 'the agent');
  return { s, agent: JSON.parse(line.slice('agent '.length)) as AgentLine };
}

it("gives the agent the user's --inspect, --heap-prof and --require, and the supervisor none of them", async () => {
  const cwd = tempDir('cfn-debug-');
  const port = await freePort();
  const profiles = path.join(cwd, 'profiles');
  const preload = fixture('ecosystem/preload-marker.cjs');
  const user = `--inspect=127.0.0.1:${port} --heap-prof --no-deprecation --heap-prof-dir ${profiles} --require "${preload}"`;
  const { s, agent } = await superviseWith(user, cwd);
  // The agent owns the port (its listening socket's inode is among its fds) and the supervisor listens nowhere.
  expect(agent.inspector).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${port}/`));
  expect((listenersOf(agent.pid) ?? []).map((l) => l.port)).toContain(port);
  expect(listenersOf(s.child.pid!)).toEqual([]);
  expect(s.stderr().toString()).not.toContain('address already in use');
  // Exactly what the user gave, then the supervisor's additions.
  expect(agent.nodeOptions).toBe(`${user} ${agent.ours}`);
  expect(readFileSync(path.join(cwd, 'preloads'), 'utf8')).toBe(`${agent.pid}\n`);
  // The supervisor's node keeps the rest of the user's options.
  const environ = readFileSync(`/proc/${s.child.pid}/environ`, 'utf8').split('\0');
  expect(environ).toContain('NODE_OPTIONS=--no-deprecation');

  s.child.kill('SIGTERM');
  expect((await s.exited).code).toBe(0);
  // Node names a profile after the pid that wrote it: the agent's alone.
  expect(readdirSync(profiles)).toEqual([expect.stringMatching(new RegExp(`^Heap\\.\\d+\\.\\d+\\.${agent.pid}\\.\\d+\\.\\d+\\.heapprofile$`))]);
});

it('never opens a port of the supervisor to the network with --inspect=0.0.0.0', async () => {
  const cwd = tempDir('cfn-debug-');
  const port = await freePort();
  const { s, agent } = await superviseWith(`--inspect=0.0.0.0:${port}`, cwd);
  expect((listenersOf(agent.pid) ?? []).map((l) => `${l.address}:${l.port}`)).toContain(`0.0.0.0:${port}`);
  expect(listenersOf(s.child.pid!)).toEqual([]);
  s.child.kill('SIGTERM');
  await s.exited;
});
