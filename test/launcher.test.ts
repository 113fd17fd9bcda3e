// bin/cfn-supervise, the installed command: found through npm's symlink, run from its own folder or given to node,
// it starts the program beside it, and the agent gets no flag of the supervisor's node.
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { BIN, ROOT, startCli, tempDir, waitFor } from './helpers/cli.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

it('runs through a symlink, as npm installs it, by its bare name from its own folder, and as a script given to node', () => {
  const link = path.join(tempDir(), 'cfn-supervise');
  symlinkSync(BIN, link);
  expect(spawnSync(link, ['--version'], { encoding: 'utf8' }).stdout).toBe(`${VERSION}\n`);
  // `node node_modules/.bin/cfn-supervise` (a Dockerfile's CMD, a process manager): the launcher is also JavaScript.
  expect(spawnSync(process.execPath, [link, '--version'], { encoding: 'utf8' }).stdout).toBe(`${VERSION}\n`);
  expect(spawnSync('sh', ['cfn-supervise', '--version'], { cwd: path.dirname(BIN), encoding: 'utf8' }).stdout).toBe(`${VERSION}\n`);
});

it('passes no node flag of its own to the agent', async () => {
  const cwd = tempDir();
  const agent = "console.log('execArgv ' + JSON.stringify(process.execArgv.filter((a) => a.startsWith('--')))); setInterval(() => {}, 1000)";
  const s = startCli(['--state-dir', path.join(cwd, 'state'), '--min-free', '0', '--', 'node', '-e', agent], { cwd });
  const line = await waitFor(() => s.stdout().toString().split('\n').find((l) => l.startsWith('execArgv ')), 30_000, 'the agent');
  expect(JSON.parse(line.slice('execArgv '.length))).toEqual([]);
  // exec replaced the launcher's shell: the same pid is the supervisor's node, started as `node <program> …`,
  // with only the two options that keep Node 24's exit from deadlocking (bin/cfn-supervise says why).
  expect(readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8').split('\0').slice(1, 4)).toEqual(['--no-maglev', '--no-concurrent-sparkplug', expect.stringMatching(/dist\/cli\/main\.cjs$/)]);
  s.child.kill('SIGTERM');
  await s.exited;
});
