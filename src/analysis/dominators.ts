import { ROOT, type HeapGraph, type Retainers, typeCode } from './graph.js';

export interface DominatorTree {
  /** Immediate dominator of each node; the root dominates itself. */
  readonly dominator: Uint32Array;
  readonly retained: Float64Array;
}

const PAGE_OWNED = 1;

/*
 * Which edges retain follows Chrome DevTools and memlab exactly, so retained sizes agree with theirs:
 * weak edges never retain; shortcut edges retain only from the root (they mark user roots such as
 * the global object); self edges are ignored; and an edge from an object outside the page's graph
 * into one inside it (the debugger's own references) does not count.
 */
function pageOwnedFlags(g: HeapGraph): Uint8Array {
  const weak = typeCode(g.edgeTypeNames, 'weak');
  const shortcut = typeCode(g.edgeTypeNames, 'shortcut');
  const element = typeCode(g.edgeTypeNames, 'element');
  const synthetic = typeCode(g.nodeTypeNames, 'synthetic');
  const { firstEdge, edgeTo, edgeType, nodeType, nodeName, strings } = g;
  const flags = new Uint8Array(g.nodeCount);
  const stack = new Uint32Array(g.nodeCount);
  let top = 0;
  for (let e = firstEdge[ROOT]!, end = firstEdge[ROOT + 1]!; e < end; e++) {
    const to = edgeTo[e]!;
    const type = edgeType[e]!;
    if (type === shortcut) continue;
    if (type === element && nodeType[to] === synthetic && strings[nodeName[to]!] === '(Document DOM trees)') continue;
    stack[top++] = to;
    flags[to] = PAGE_OWNED;
  }
  while (top > 0) {
    const from = stack[--top]!;
    for (let e = firstEdge[from]!, end = firstEdge[from + 1]!; e < end; e++) {
      const to = edgeTo[e]!;
      if (flags[to] || edgeType[e] === weak) continue;
      stack[top++] = to;
      flags[to] = PAGE_OWNED;
    }
  }
  return flags;
}

/**
 * Lengauer–Tarjan over typed arrays, a faithful port of memlab's TraceFinder (itself DevTools'
 * algorithm), including how it numbers nodes the root cannot reach: first those with only weak
 * retainers (each with its subgraph), then whatever cliques remain, all attached to the root.
 * Vertices are 1-based so that 0 can mean "none".
 */
export function computeDominators(g: HeapGraph, r: Retainers): DominatorTree {
  const { nodeCount, firstEdge, edgeTo, edgeType } = g;
  const { firstRetainer, retainerFrom, retainerType } = r;
  const weak = typeCode(g.edgeTypeNames, 'weak');
  const shortcut = typeCode(g.edgeTypeNames, 'shortcut');
  const flags = pageOwnedFlags(g);

  const isEssential = (from: number, type: number, to: number): boolean =>
    from !== to &&
    type !== weak &&
    (type !== shortcut || from === ROOT) &&
    (from === ROOT || !flags[to] || flags[from] === PAGE_OWNED);

  const size = nodeCount + 1;
  const parent = new Uint32Array(size);
  const ancestor = new Uint32Array(size);
  const vertex = new Uint32Array(size);
  const label = new Uint32Array(size);
  const semi = new Uint32Array(size);
  const dom = new Uint32Array(size);
  const bucketHead = new Uint32Array(size);
  const bucketNext = new Uint32Array(size);
  const work = new Uint32Array(size);
  let n = 0;

  // Iterative DFS; `work` holds each ordinal's next unexplored edge.
  const dfs = (start: number): void => {
    work[start - 1] = firstEdge[start - 1]!;
    let v = start;
    while (v !== 0) {
      if (semi[v] === 0) {
        semi[v] = ++n;
        vertex[n] = label[v] = v;
      }
      let next = parent[v]!;
      const from = v - 1;
      for (const end = firstEdge[from + 1]!; work[from]! < end; work[from]!++) {
        const e = work[from]!;
        const to = edgeTo[e]!;
        if (!isEssential(from, edgeType[e]!, to)) continue;
        const w = to + 1;
        if (semi[w] === 0) {
          parent[w] = v;
          work[to] = firstEdge[to]!;
          next = w;
          break;
        }
      }
      v = next;
    }
  };

  const hasOnlyWeakRetainers = (node: number): boolean => {
    for (let i = firstRetainer[node]!, end = firstRetainer[node + 1]!; i < end; i++) {
      const t = retainerType[i]!;
      if (t !== weak && t !== shortcut) return false;
    }
    return true;
  };

  // Path compression for eval(); iterative because dominator chains can be millions deep.
  const evaluate = (node: number): number => {
    if (ancestor[node] === 0) return node;
    let v = node;
    let sp = 0;
    while (ancestor[ancestor[v]!] !== 0) {
      work[++sp] = v;
      v = ancestor[v]!;
    }
    while (sp > 0) {
      const w = work[sp--]!;
      const a = ancestor[w]!;
      if (semi[label[a]!]! < semi[label[w]!]!) label[w] = label[a]!;
      ancestor[w] = ancestor[a]!;
    }
    return label[node]!;
  };

  const root = ROOT + 1;
  dfs(root);
  for (let v = 1; v <= nodeCount && n < nodeCount; v++) {
    if (semi[v] === 0 && hasOnlyWeakRetainers(v - 1)) {
      parent[v] = root;
      dfs(v);
    }
  }
  for (let v = 1; v <= nodeCount && n < nodeCount; v++) {
    if (semi[v] === 0) {
      parent[v] = root;
      semi[v] = ++n;
      vertex[n] = label[v] = v;
    }
  }

  for (let i = n; i >= 2; i--) {
    const w = vertex[i]!;
    const wOrdinal = w - 1;
    let orphan = true;
    for (let k = firstRetainer[wOrdinal]!, end = firstRetainer[wOrdinal + 1]!; k < end; k++) {
      const from = retainerFrom[k]!;
      if (!isEssential(from, retainerType[k]!, wOrdinal)) continue;
      orphan = false;
      const u = evaluate(from + 1);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    if (orphan) semi[w] = semi[root]!;
    const s = vertex[semi[w]!]!;
    bucketNext[w] = bucketHead[s]!;
    bucketHead[s] = w;
    const p = parent[w]!;
    ancestor[w] = p;
    for (let v = bucketHead[p]!; v !== 0; v = bucketNext[v]!) {
      const u = evaluate(v);
      dom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucketHead[p] = 0;
  }

  dom[0] = dom[root] = root;
  for (let i = 2; i <= n; i++) {
    const w = vertex[i]!;
    if (dom[w] !== vertex[semi[w]!]) dom[w] = dom[dom[w]!]!;
  }

  const dominator = new Uint32Array(nodeCount);
  const retained = Float64Array.from(g.nodeSelfSize);
  for (let v = 0; v < nodeCount; v++) dominator[v] = dom[v + 1]! - 1;
  // Reverse DFS order visits every node before its dominator.
  for (let i = n; i > 1; i--) {
    const v = vertex[i]! - 1;
    retained[dominator[v]!]! += retained[v]!;
  }
  return { dominator, retained };
}
