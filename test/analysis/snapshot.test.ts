// Snapshot summary and diff on hand-made graphs: histogram, where memory fans out, retainer paths.
import { describe, expect, it } from 'vitest';
import { computeDominators } from '../../src/analysis/dominators.js';
import { buildRetainers } from '../../src/analysis/graph.js';
import { retainerPath, shortestRetainers } from '../../src/analysis/paths.js';
import { type SnapshotTotals, classHistogram, diffSnapshots, summarizeSnapshot, topRetained } from '../../src/analysis/snapshot.js';
import { type GraphSpec, makeGraph } from './graphs.js';

// root → (GC roots) → global → leaks (Array) → 3 × Item, each with its own string;
// global → cache (Map) → one big table; and a weak edge straight to an Item.
const spec: GraphSpec = {
  nodes: [
    { name: '', type: 'synthetic' }, // 0
    { name: '(GC roots)', type: 'synthetic' }, // 1
    { name: 'global', self: 40 }, // 2
    { name: 'Array', self: 32 }, // 3
    { name: 'Item', self: 100 }, // 4
    { name: 'Item', self: 100 }, // 5
    { name: 'Item', self: 100 }, // 6
    { name: 'payload', type: 'string', self: 20 }, // 7
    { name: 'payload', type: 'string', self: 20 }, // 8
    { name: 'payload', type: 'string', self: 20 }, // 9
    { name: 'Map', self: 24 }, // 10
    { name: 'table', type: 'array', self: 200 }, // 11
    { name: 'makeItem', type: 'closure', self: 32 }, // 12
  ],
  edges: [
    [0, 1, 'element', 1],
    [1, 2, 'element', 0],
    [2, 3, 'property', 'leaks'],
    [3, 4, 'element', 0],
    [3, 5, 'element', 1],
    [3, 6, 'element', 2],
    [4, 7, 'property', 'data'],
    [5, 8, 'property', 'data'],
    [6, 9, 'property', 'data'],
    [2, 10, 'property', 'cache'],
    [10, 11, 'internal', 'table'],
    [2, 12, 'property', 'makeItem'],
    [12, 4, 'weak', 'last'],
  ],
};

const g = makeGraph(spec);
const tree = computeDominators(g, buildRetainers(g));

describe('class histogram', () => {
  it('counts objects by constructor and everything else by category, largest first', () => {
    expect(classHistogram(g)).toEqual([
      { name: 'Item', count: 3, selfSize: 300 },
      { name: '(array)', count: 1, selfSize: 200 },
      { name: '(string)', count: 3, selfSize: 60 },
      { name: 'global', count: 1, selfSize: 40 },
      { name: 'Array', count: 1, selfSize: 32 },
      { name: '(closure)', count: 1, selfSize: 32 },
      { name: 'Map', count: 1, selfSize: 24 },
      { name: '(synthetic)', count: 2, selfSize: 0 },
    ]);
  });
});

describe('top retained objects', () => {
  it('lists where memory fans out, not the chain of wrappers above it', () => {
    // global retains 600 but its largest child (the Array, 392) is over half of it: pass-through.
    // The Map's table is 200 of its 224: the Map passes through to the table.
    expect(topRetained(g, tree, 10).map((n) => spec.nodes[n]?.name)).toEqual(['Array', 'table', 'Item', 'Item', 'Item', 'makeItem', 'payload', 'payload', 'payload']);
    expect(topRetained(g, tree, 2)).toEqual([3, 11]);
  });
});

describe('retainer paths', () => {
  const via = shortestRetainers(g);

  it('walks from a GC root to the object along the shortest strong path', () => {
    expect(retainerPath(g, via, 8)?.steps).toEqual([
      { edge: '[1]', node: '(GC roots)', id: 3 },
      { edge: '[0]', node: 'global', id: 5 },
      { edge: '.leaks', node: 'Array', id: 7 },
      { edge: '[1]', node: 'Item', id: 11 },
      { edge: '.data', node: '"payload"', id: 17 },
    ]);
  });

  it('does not follow weak edges', () => {
    expect(retainerPath(g, via, 4)?.steps.map((s) => s.edge)).toEqual(['[1]', '[0]', '.leaks', '[0]']);
  });

  it('elides the middle of a very long path and says how much', () => {
    const length = 100;
    const chain = makeGraph({
      nodes: [{ name: '', type: 'synthetic' }, ...Array.from({ length }, (_, i) => ({ name: `N${i}` }))],
      edges: Array.from({ length }, (_, i): [number, number, string, string] => [i, i + 1, 'property', 'next']),
    });
    const path = retainerPath(chain, shortestRetainers(chain), length);
    expect(path?.elided).toBe(length - 24);
    expect(path?.steps).toHaveLength(24);
    expect(path?.steps.at(-1)?.node).toBe(`N${length - 1}`);
    expect(path?.steps[0]?.node).toBe('N0');
  });

  it('has no path for an object only weakly held', () => {
    const weakOnly = makeGraph({
      nodes: [{ name: '', type: 'synthetic' }, { name: 'A' }, { name: 'B' }],
      edges: [
        [0, 1],
        [1, 2, 'weak'],
      ],
    });
    expect(retainerPath(weakOnly, shortestRetainers(weakOnly), 2)).toBeUndefined();
  });
});

describe('snapshot summary', () => {
  it('puts it together: totals, shares and paths', () => {
    const s = summarizeSnapshot('x.heapsnapshot', g, tree, 3);
    expect(s).toMatchObject({ kind: 'heapsnapshot', file: 'x.heapsnapshot', nodeCount: 13, edgeCount: 13, totalSize: 688 });
    expect(s.constructors[0]).toEqual({ name: 'Item', count: 3, selfSize: 300, share: 300 / 688 });
    expect(s.topRetained[0]).toMatchObject({ name: 'Array', className: 'Array', selfSize: 32, retainedSize: 392, share: 392 / 688, dominator: { id: 5, name: 'global' } });
    expect(s.topRetained[0]?.path?.steps.map((x) => x.edge).join('')).toBe('[1][0].leaks');
  });
});

describe('snapshot diff', () => {
  it('ranks the constructors that grew most first and leaves out those that did not grow', () => {
    const before: SnapshotTotals = {
      file: 'a',
      nodeCount: 10,
      totalSize: 1000,
      classes: [
        { name: 'Item', count: 10, selfSize: 1000 },
        { name: '(string)', count: 5, selfSize: 100 },
        { name: 'Gone', count: 1, selfSize: 10 },
      ],
    };
    const after: SnapshotTotals = {
      file: 'b',
      nodeCount: 30,
      totalSize: 5000,
      classes: [
        { name: 'Item', count: 40, selfSize: 4000 },
        { name: '(string)', count: 5, selfSize: 100 },
        { name: 'New', count: 2, selfSize: 64 },
      ],
    };
    const d = diffSnapshots(before, after, 10);
    expect(d.totalSize).toEqual({ before: 1000, after: 5000, delta: 4000 });
    expect(d.grew.map((c) => [c.name, c.countDelta, c.sizeDelta])).toEqual([
      ['Item', 30, 3000],
      ['New', 2, 64],
    ]);
  });
});
