// The tests start node two ways: fixtures through process.execPath, the installed command through the `node` on
// PATH (bin/cfn-supervise execs it), and agents as `node ...`. Both must be the node the suite runs on, or a run
// meant for one node tests another (scripts/test-on-node.sh puts its node first on PATH). The benchmarks too.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from './helpers/cli.js';
import { NODES, runtime } from './helpers/runtimes.js';

it('starts the same node by PATH as the one running the tests, for the installed command and its agent', async () => {
  const onPath = spawnSync('node', ['-p', 'process.execPath'], { encoding: 'utf8' }).stdout.trim();
  expect(realpathSync(onPath)).toBe(realpathSync(process.execPath));
  const r = await runCli(['--min-free', '0', '--restart', 'never', '--', 'node', '-p', 'process.version'], { cwd: tempDir() });
  expect(r.stdout.toString().trim()).toBe(process.version);
});

it('refuses to benchmark with another node first on PATH: one table would hold figures of two nodes', () => {
  const other = runtime(process.version.startsWith('v22.') ? NODES[24] : NODES[22]);
  const env = { ...process.env, PATH: `${path.dirname(other)}:${process.env.PATH}` };
  const r = spawnSync(process.execPath, [path.join(ROOT, 'benchmarks/run.js'), 'none'], { env, encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^bench: the node on PATH \(\S+\) is not the one running the benchmarks \(\S+\): put that node first on PATH\n$/);
});
