import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, Harness, PROBE, unprobedEnv } from './helpers.js';

let h: Harness | undefined;
describe('heap snapshots of a large heap', () => {
  it('streams a ~100 MB heap snapshot to disk while the supervisor side grows < 32 MB, parsable by memlab', async () => {
    h = new Harness();
    const driver = spawnSync(process.execPath, ['--expose-gc', path.join(FIXTURES, 'snapshot-driver.mjs'), h.dir, PROBE], {
      encoding: 'utf8',
      timeout: 120_000,
      env: unprobedEnv(),
    });
    expect(driver.status, driver.stderr).toBe(0);
    const out = JSON.parse(driver.stdout.trim()) as {
      file: string;
      agentHeap: number;
      baselineRss: number;
      peakRss: number;
      progressCalls: number;
    };
    expect(out.agentHeap).toBeGreaterThan(90 * 1024 * 1024);
    expect(out.peakRss - out.baselineRss).toBeLessThan(32 * 1024 * 1024);
    expect(out.progressCalls).toBeGreaterThan(0);
    expect(statSync(out.file).size).toBeGreaterThan(out.agentHeap);
    const memlab = (await import('@memlab/core')) as unknown as {
      config: { muteConsole: boolean };
      utils: { getSnapshotFromFile(f: string, o: object): Promise<{ nodes: { length: number } }> };
    };
    memlab.config.muteConsole = true;
    const heap = await memlab.utils.getSnapshotFromFile(out.file, {});
    expect(heap.nodes.length).toBeGreaterThan(1_000_000);
  }, 180_000);
});
