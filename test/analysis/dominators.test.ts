// Dominators and retained sizes on small hand-made graphs, with the edge rules memlab and DevTools use.
import { describe, expect, it } from 'vitest';
import { computeDominators } from '../../src/analysis/dominators.js';
import { buildRetainers } from '../../src/analysis/graph.js';
import { cases, root } from './dominator-cases.js';
import { makeGraph } from './graphs.js';

describe('computeDominators', () => {
  it.each(cases)('$name', ({ spec, dominator, retained }) => {
    const g = makeGraph(spec);
    const tree = computeDominators(g, buildRetainers(g));
    expect([...tree.dominator]).toEqual(dominator);
    expect([...tree.retained]).toEqual(retained);
  });

  it('handles a chain far deeper than the call stack', () => {
    const depth = 200_000;
    const nodes = [root, ...Array.from({ length: depth }, (_, i) => ({ name: `n${i}`, self: 1 }))];
    const edges = Array.from({ length: depth }, (_, i): [number, number] => [i, i + 1]);
    const g = makeGraph({ nodes, edges });
    const tree = computeDominators(g, buildRetainers(g));
    expect(tree.retained[0]).toBe(depth);
    expect(tree.retained[depth]).toBe(1);
    expect(tree.dominator[depth]).toBe(depth - 1);
  });
});
