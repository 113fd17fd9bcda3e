import { ROOT, type HeapGraph, edgeLabel, nodeLabel, typeCode } from './graph.js';

export interface PathStep {
  /** The edge from the previous step, as DevTools writes it (`.name`, `[3]`, `{internal}`). */
  readonly edge: string;
  readonly node: string;
  readonly id: number;
}

export interface RetainerPath {
  /** From the first object below the synthetic root down to the object itself. */
  readonly steps: PathStep[];
  /** Steps left out of the middle of a very long path (a linked list, say). */
  readonly elided: number;
}

export const HEAD_STEPS = 4;
const TAIL_STEPS = 20;

/**
 * Breadth-first search from the root over edges that retain (no weak edges; shortcut edges only
 * from the root, where they name user roots such as the global object). `via[n]` is 1 + the edge
 * that first reached n, or 0 when n is unreachable.
 */
export function shortestRetainers(g: HeapGraph): Uint32Array {
  const weak = typeCode(g.edgeTypeNames, 'weak');
  const shortcut = typeCode(g.edgeTypeNames, 'shortcut');
  const { firstEdge, edgeTo, edgeType } = g;
  const via = new Uint32Array(g.nodeCount);
  const queue = new Uint32Array(g.nodeCount);
  let head = 0;
  let tail = 0;
  queue[tail++] = ROOT;
  while (head < tail) {
    const from = queue[head++]!;
    for (let e = firstEdge[from]!, end = firstEdge[from + 1]!; e < end; e++) {
      const to = edgeTo[e]!;
      const type = edgeType[e]!;
      if (via[to] !== 0 || to === ROOT || type === weak || (type === shortcut && from !== ROOT)) continue;
      via[to] = e + 1;
      queue[tail++] = to;
    }
  }
  return via;
}

/** The node an edge comes from: the last node whose first edge is at or before it. */
function edgeSource(g: HeapGraph, edge: number): number {
  let lo = 0;
  let hi = g.nodeCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (g.firstEdge[mid]! <= edge) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * For each of `targets`, an edge of g.holderEdgeTypes into it from a node the root reaches (the source nearest
 * the root), in one pass over the edges; none without holderEdgeTypes.
 */
export function namedHolders(g: HeapGraph, via: Uint32Array, targets: readonly number[]): Map<number, number> {
  const found = new Map<number, number>();
  const types = g.holderEdgeTypes;
  if (!types || targets.length === 0) return found;
  const wanted = new Set(targets);
  // A holder that the root reaches only through the target itself is no way to it (a JSC array's element
  // pointing back at the array): its path would come round to the target again.
  const depth = (n: number, target: number): number => {
    let d = 0;
    for (let at = n; at !== ROOT && d < g.nodeCount; d++) {
      if (at === target) return Infinity;
      at = edgeSource(g, via[at]! - 1);
    }
    return d;
  };
  const best = new Map<number, number>();
  for (let from = 0; from < g.nodeCount; from++) {
    if (from !== ROOT && via[from] === 0) continue;
    for (let e = g.firstEdge[from]!, end = g.firstEdge[from + 1]!; e < end; e++) {
      const to = g.edgeTo[e]!;
      if (to === from || !wanted.has(to) || !types.includes(g.edgeType[e]!)) continue;
      const d = depth(from, to);
      if (d < (best.get(to) ?? Infinity)) {
        best.set(to, d);
        found.set(to, e);
      }
    }
  }
  return found;
}

/** `lastEdge`: the edge into `node` to show (namedHolders), where the shortest path's would name nothing. */
export function retainerPath(g: HeapGraph, via: Uint32Array, node: number, lastEdge?: number): RetainerPath | undefined {
  if (node !== ROOT && via[node] === 0) return undefined;
  const reversed: PathStep[] = [];
  for (let n = node; n !== ROOT; ) {
    const edge = reversed.length === 0 && lastEdge !== undefined ? lastEdge : via[n]! - 1;
    reversed.push({ edge: edgeLabel(g, edge), node: nodeLabel(g, n), id: g.nodeId[n]! });
    n = edgeSource(g, edge);
  }
  const steps = reversed.reverse();
  const elided = Math.max(0, steps.length - HEAD_STEPS - TAIL_STEPS);
  if (elided === 0) return { steps, elided };
  return { steps: [...steps.slice(0, HEAD_STEPS), ...steps.slice(-TAIL_STEPS)], elided };
}
