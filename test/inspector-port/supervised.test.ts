// Issue 12, items 3 and 5, through the real CLI: a node child that lost NODE_OPTIONS is captured through its
// inspector port when its rule reaches critical; status says how each process is seen; --inspect opens each
// node process's own inspector for DevTools without a word on the agent's streams.
import path from 'node:path';
import { expect, it } from 'vitest';
import { analysedCapture, exclusive, fixture, readJsonl, runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';

const FAST = ['--min-free', '0', '--interval', '200'];

it("captures a probe-less child's leak through its inspector port at critical, with its top site in alerts.jsonl", async () => {
  // The child has no --inspect-port: SIGUSR1 opens node's default, 9229, which default-port.test.ts holds at times.
  await exclusive('inspector-9229');
  const cwd = tempDir();
  const s = startCli([...FAST, '--warning', '120', '--critical', '180', '--hard', '2000', '--', 'node', fixture('inspector-port/clean-env-parent.cjs')], { cwd });
  const analysed = await analysedCapture(cwd, 'rss-critical');
  const status = JSON.parse((await runCli(['status', '--json'], { cwd })).stdout.toString()) as { processes: { pid: number; role: string; instrumented: string }[] };
  s.child.kill('SIGTERM');
  await s.exited;
  expect((analysed.top_sites as { site: string }[])[0]!.site).toMatch(/^childLeak /);
  const child = status.processes.find((p) => p.pid === analysed.pid);
  expect(child).toMatchObject({ role: 'node:-e', instrumented: 'inspector' });
  expect(status.processes.find((p) => p.role === 'agent')).toMatchObject({ instrumented: 'probe' });
  // The port was closed again after the capture.
  expect(readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'))[0]!.captures).toEqual([expect.stringMatching(/rss-critical\.heapprofile$/)]);
}, 150_000);

it('--inspect opens each node process its own inspector on loopback, shown by status, nothing printed', async () => {
  const cwd = tempDir();
  const s = startCli([...FAST, '--inspect', '--', 'node', '-e', "console.log('agent says hi'); setInterval(() => {}, 1000)"], { cwd });
  const url = await waitFor(async () => {
    const r = await runCli(['status', '--json'], { cwd });
    const procs = r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: { devtools_url?: string }[] }).processes : [];
    return procs[0]?.devtools_url;
  }, 20_000, 'a DevTools URL');
  expect(url).toMatch(/^devtools:\/\/devtools\/bundled\/js_app\.html\?experiments=true&v8only=true&ws=127\.0\.0\.1:\d+\/[0-9a-f-]+$/);
  s.child.kill('SIGTERM');
  await s.exited;
  expect(s.stdout().toString()).toBe('agent says hi\n');
  expect(s.stderr().toString()).not.toMatch(/Debugger listening/);
});
