// Hand-made graphs with their dominators and retained sizes worked out by hand; memlab must agree too.
import type { GraphSpec } from './graphs.js';

export const root = { name: '', type: 'synthetic' };

export interface Case {
  name: string;
  spec: GraphSpec;
  dominator: number[];
  retained: number[];
}

export const cases: Case[] = [
  {
    name: 'a chain: each node dominates the rest',
    spec: { nodes: [root, { name: 'A', self: 10 }, { name: 'B', self: 20 }, { name: 'C', self: 30 }], edges: [[0, 1], [1, 2], [2, 3]] },
    dominator: [0, 0, 1, 2],
    retained: [60, 60, 50, 30],
  },
  {
    name: 'a diamond: the join is dominated by the fork',
    spec: {
      nodes: [root, { name: 'A', self: 10 }, { name: 'B', self: 5 }, { name: 'C', self: 5 }, { name: 'D', self: 7 }],
      edges: [[0, 1], [1, 2], [1, 3], [2, 4], [3, 4]],
    },
    dominator: [0, 0, 1, 1, 1],
    retained: [27, 27, 5, 5, 7],
  },
  {
    name: 'two roots share an object: only the root dominates it',
    spec: { nodes: [root, { name: 'A', self: 1 }, { name: 'B', self: 2 }, { name: 'C', self: 4 }], edges: [[0, 1], [0, 2], [1, 3], [2, 3]] },
    dominator: [0, 0, 0, 0],
    retained: [7, 1, 2, 4],
  },
  {
    name: 'a weak edge does not retain',
    spec: {
      nodes: [root, { name: 'A', self: 10 }, { name: 'B', self: 5 }, { name: 'C', self: 100 }],
      edges: [[0, 1], [0, 2], [1, 3, 'weak'], [2, 3]],
    },
    dominator: [0, 0, 0, 2],
    retained: [115, 10, 105, 100],
  },
  {
    name: 'a shortcut edge below the root does not retain',
    spec: {
      nodes: [root, { name: 'A', self: 1 }, { name: 'B', self: 2 }, { name: 'C', self: 4 }],
      edges: [[0, 1], [0, 2], [1, 3, 'shortcut'], [2, 3]],
    },
    dominator: [0, 0, 0, 2],
    retained: [7, 1, 6, 4],
  },
  {
    name: "an edge from outside the page's graph into it does not retain (the root's shortcut targets are outside)",
    spec: {
      nodes: [root, { name: 'G', self: 10 }, { name: '(GC roots)', type: 'synthetic' }, { name: 'X', self: 1 }, { name: 'Y', self: 3 }],
      edges: [[0, 1, 'shortcut'], [0, 2, 'element', 1], [2, 3], [1, 4], [3, 4]],
    },
    dominator: [0, 0, 0, 2, 3],
    retained: [14, 10, 4, 4, 3],
  },
  {
    name: 'an object with only weak retainers hangs below the root, with what it holds',
    spec: {
      nodes: [root, { name: 'A', self: 1 }, { name: 'O', self: 5 }, { name: 'P', self: 7 }],
      edges: [[0, 1], [1, 2, 'weak'], [2, 3]],
    },
    dominator: [0, 0, 0, 2],
    retained: [13, 1, 12, 7],
  },
  {
    name: 'an unreachable cycle hangs below the root, each member on its own',
    spec: {
      nodes: [root, { name: 'A', self: 1 }, { name: 'X', self: 2 }, { name: 'Y', self: 3 }],
      edges: [[0, 1], [2, 3], [3, 2]],
    },
    dominator: [0, 0, 0, 0],
    retained: [6, 1, 2, 3],
  },
  {
    name: 'self edges and back edges change nothing',
    spec: {
      nodes: [root, { name: 'A', self: 1 }, { name: 'B', self: 2 }],
      edges: [[0, 1], [1, 1], [1, 2], [2, 1]],
    },
    dominator: [0, 0, 1],
    retained: [3, 3, 2],
  },
];
