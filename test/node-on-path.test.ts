// The tests start node two ways: fixtures through process.execPath, the installed command through the `node` on
// PATH (bin/cfn-supervise execs it), and agents as `node ...`. Both must be the node the suite runs on, or a run
// meant for one node tests another (scripts/test-on-node.sh puts its node first on PATH).
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';

it('starts the same node by PATH as the one running the tests, for the installed command and its agent', async () => {
  const onPath = spawnSync('node', ['-p', 'process.execPath'], { encoding: 'utf8' }).stdout.trim();
  expect(realpathSync(onPath)).toBe(realpathSync(process.execPath));
  const r = await runCli(['--min-free', '0', '--restart', 'never', '--', 'node', '-p', 'process.version'], { cwd: tempDir() });
  expect(r.stdout.toString().trim()).toBe(process.version);
});
