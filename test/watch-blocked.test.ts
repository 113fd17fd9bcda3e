// Issue 11, item 3: an agent blocked in synchronous code cannot answer its probe; the tick does not wait for it.
// RSS rules act on /proc data alone, on time, and the silence itself is reported once, as `unresponsive`.
import path from 'node:path';
import { expect, it } from 'vitest';
import { exclusive, fixture, readJsonl, runCli, tempDir } from './helpers/cli.js';

it('acts on the RSS hard limit of a blocked agent within a few ticks', async () => {
  // Its probe cannot answer at critical: the inspector's port may be tried, and SIGUSR1 opens node's default,
  // 9229, even in a process blocked in JavaScript (an interrupt), which default-port.test.ts needs free.
  await exclusive('inspector-9229');
  const cwd = tempDir();
  const r = await runCli(
    ['--min-free', '0', '--interval', '200', '--restart', 'never', '--kill-timeout', '500', '--warning', '150', '--critical', '300', '--hard', '450', '--', 'node', fixture('watch/blocked-growth.cjs')],
    { cwd },
  );
  const alerts = readJsonl(path.join(cwd, '.cfn-supervise/alerts.jsonl'));
  const rss = alerts.filter((a) => a.metric === 'rss');
  expect(rss.map((a) => a.level)).toEqual(['warning', 'critical', 'hard']);
  const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
  expect(run!.exit).toMatchObject({ reason: 'limit' });
  // The hard limit acted while the agent was at most a few 16 MB steps past it: no tick waited for a heap read.
  expect(run!.peak_mb as number).toBeLessThan(450 + 6 * 16);
  expect(r.stderr.toString()).toMatch(/memory limit: rss over 450 MB/);
});

it('reports a probe that stops answering once, and its recovery', async () => {
  const cwd = tempDir();
  // Busy for 9 s (more than three 2 s heap reads going unanswered), then idle long enough to answer again.
  const agent = `setTimeout(() => { const t = Date.now() + 9000; while (Date.now() < t); setTimeout(() => process.exit(0), 4000); }, 1500); setInterval(() => {}, 1000);`;
  await runCli(['--min-free', '0', '--interval', '200', '--clear-after', '1000', '--restart', 'never', '--', 'node', '-e', agent], { cwd });
  const silence = readJsonl(path.join(cwd, '.cfn-supervise/alerts.jsonl')).filter((a) => a.metric === 'unresponsive');
  expect(silence.map((a) => a.level)).toEqual(['warning', 'info']);
  expect(silence[0]!.message).toMatch(/not answering \(\d+ heap reads in a row got no reply/);
});
