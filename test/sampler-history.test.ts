// What the sampler holds per process is bounded by what is used of it: the RSS history only feeds the views'
// sparkline, so it keeps that many points whatever the trend window (which sizes the heap history alone).
import { describe, expect, it } from 'vitest';
import { ProcessTree } from '../src/supervisor/proc/tree.js';
import { RSS_HISTORY_POINTS, Sampler } from '../src/supervisor/watch/sampler.js';
import { killQuietly, spawnTracked, waitFor } from './helpers/cli.js';

describe('Sampler', () => {
  it('keeps the last RSS points the views show, not one per tick of the trend window', async () => {
    const child = spawnTracked('sleep', ['60'], { stdio: 'ignore' });
    const pid = child.pid!;
    try {
      const tree = new ProcessTree();
      tree.beginRun(pid);
      const sampler = new Sampler(tree, undefined, { historySize: 3600, trendWindowMs: () => 300_000 });
      await waitFor(() => sampler.tick(pid).processes.some((p) => p.pid === pid), 10_000, 'the child sampled');
      for (let i = 0; i < RSS_HISTORY_POINTS * 2; i++) sampler.tick(pid);
      expect(sampler.history(pid)).toHaveLength(RSS_HISTORY_POINTS);
      sampler.resize(10_000);
      sampler.tick(pid);
      expect(sampler.history(pid)).toHaveLength(RSS_HISTORY_POINTS);
      expect(sampler.history(pid).at(-1)!.rssBytes).toBeGreaterThan(0);
    } finally {
      killQuietly(pid);
    }
  });
});
