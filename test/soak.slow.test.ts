// The soak: a supervisor that does not grow while its agent starts and ends thousands of node children. Slow
// tier (minutes), which CI still runs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, spawnTracked, tempDir, waitFor } from './helpers/cli.js';

const FAST = ['--backoff', '10', '--min-free', '0'];

describe('the supervisor does not leak', () => {
  it('keeps its heap after GC flat and its RSS bounded while the agent starts and ends 2,000 node children', async () => {
    const cwd = tempDir();
    const progress = path.join(cwd, 'done');
    // The benchmarks' churn agent: 100 ms children, 4 at a time, started by SIGUSR2 (forwarded to the agent).
    const churn = path.join(import.meta.dirname, '../benchmarks/agents/churn.cjs');
    // V8's own account of each major GC (--trace-gc, on stdout, each line naming its process): the heap left after
    // it is what a leak grows. RSS is not: V8 commits more heap as the churn goes on (by hand, 2026-12-07: RSS
    // 68 → 104 MB by 3,000 children, then flat to 6,000, while the heap after each major GC went 7.1 → 7.7 MB; an
    // RSS bound of 16 MB between 500 and 2,000 children failed at 16.5 and 16.8).
    const s = spawnTracked(process.execPath, ['--trace-gc', CLI, ...FAST, '--interval', '200', '--restart', 'never', '--', 'node', churn, 'soak-test', '2000', '4', progress], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    s.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((resolve) => s.once('close', resolve));
    const floors = () => [...out.matchAll(new RegExp(`^\\[${s.pid}:[^\\]]*\\].*Mark-Compact[^>]*-> ([\\d.]+) \\(`, 'gm'))].map((m) => Number(m[1]));
    await waitFor(() => existsSync(path.join(cwd, '.cfn-supervise/supervisor.log')) && readFileSync(path.join(cwd, '.cfn-supervise/supervisor.log'), 'utf8').includes('node process registered'), 15_000, 'the agent');
    s.kill('SIGUSR2');
    const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]);
    const done = () => (existsSync(progress) ? Number(readFileSync(progress, 'utf8')) : 0);
    const nextFloor = async (what: string) => {
      const seen = floors().length;
      return waitFor(() => floors().length > seen && floors().at(-1), 240_000, `a major GC of the supervisor ${what}`);
    };
    await waitFor(() => done() >= 500, 240_000, '500 children');
    const warm = { rss: rssKb(), floor: await nextFloor('after 500 children') };
    await waitFor(() => done() >= 2000, 480_000, '2000 children');
    const after = { rss: rssKb(), floor: await nextFloor('after 2000 children') };
    s.kill('SIGTERM');
    await exited;
    const log = readFileSync(path.join(cwd, '.cfn-supervise/supervisor.log'), 'utf8');
    expect((log.match(/node process registered/g) ?? []).length).toBeGreaterThan(1900);
    // 1,500 children: a leak of 1.4 KB each would cross 2 MB.
    expect(after.floor - warm.floor).toBeLessThan(2);
    expect(after.rss - warm.rss).toBeLessThan(48 * 1024);
  }, 900_000);
});
