// Retained sizes and dominators must be exactly memlab's, on hand-made graphs and on a real snapshot.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeDominators } from '../../src/analysis/dominators.js';
import { buildRetainers } from '../../src/analysis/graph.js';
import { parseSnapshotFile } from '../../src/analysis/snapshot-parser.js';
import { type Captures, capture, tempDir } from './captures.js';
import { cases } from './dominator-cases.js';
import { snapshotJson } from './graphs.js';

interface MemlabNode {
  nodeIndex: number;
  retainedSize: number;
  dominatorNode: MemlabNode | null;
}
interface Memlab {
  config: { muteConsole: boolean };
  utils: { getSnapshotFromFile(file: string, opts: object): Promise<{ nodes: { forEach(fn: (n: MemlabNode) => void): void } }> };
  analysis: { preparePathFinder(snapshot: unknown): void };
}

const memlab = createRequire(import.meta.url)('@memlab/core') as Memlab;
memlab.config.muteConsole = true;


async function memlabTree(file: string): Promise<{ dominator: number[]; retained: number[] }> {
  const snapshot = await memlab.utils.getSnapshotFromFile(file, { buildNodeIdIndex: true });
  memlab.analysis.preparePathFinder(snapshot);
  const dominator: number[] = [];
  const retained: number[] = [];
  snapshot.nodes.forEach((n) => {
    dominator[n.nodeIndex] = n.dominatorNode?.nodeIndex ?? -1;
    retained[n.nodeIndex] = n.retainedSize;
  });
  return { dominator, retained };
}

describe('memlab agrees', () => {
  it.each(cases)('on a hand-made graph: $name', async ({ spec, dominator, retained }) => {
    const file = path.join(tempDir(), 'case.heapsnapshot');
    writeFileSync(file, snapshotJson(spec));
    expect(await memlabTree(file)).toEqual({ dominator, retained });
  });

  describe('on a real snapshot', () => {
    let captures: Captures;
    beforeAll(async () => {
      captures = await capture('listeners', 10_000);
    });

    it('for every node: same retained size and same immediate dominator', async () => {
      const file = captures.after.snapshot;
      const g = parseSnapshotFile(file);
      const ours = computeDominators(g, buildRetainers(g));
      const theirs = await memlabTree(file);
      expect(theirs.retained).toHaveLength(g.nodeCount);
      let retainedDiffers = 0;
      let dominatorDiffers = 0;
      for (let n = 0; n < g.nodeCount; n++) {
        if (theirs.retained[n] !== ours.retained[n]) retainedDiffers++;
        if (theirs.dominator[n] !== ours.dominator[n]) dominatorDiffers++;
      }
      expect({ retainedDiffers, dominatorDiffers }).toEqual({ retainedDiffers: 0, dominatorDiffers: 0 });
      // A real heap has depth: the check above must have compared more than the root's children.
      expect(new Set(ours.dominator).size).toBeGreaterThan(1000);
    });
  });
});
