import { type Change, change } from './change.js';
import type { DominatorTree } from './dominators.js';
import { ROOT, type HeapGraph, className, nodeLabel, typeCode } from './graph.js';
import { type RetainerPath, namedHolders, retainerPath, shortestRetainers } from './paths.js';

export interface ClassStats {
  readonly name: string;
  readonly count: number;
  readonly selfSize: number;
}

export interface ClassShare extends ClassStats {
  /** Fraction (0..1) of the total self size. */
  readonly share: number;
}

export interface RetainedObject {
  readonly id: number;
  readonly name: string;
  readonly className: string;
  readonly selfSize: number;
  readonly retainedSize: number;
  readonly share: number;
  /** Its immediate dominator: the one object whose release would free it. */
  readonly dominator: { readonly id: number; readonly name: string };
  readonly path: RetainerPath | null;
}

export interface SnapshotSummary {
  readonly kind: 'heapsnapshot';
  readonly file: string;
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly totalSize: number;
  /** Constructors by self size, largest first. */
  readonly constructors: ClassShare[];
  readonly topRetained: RetainedObject[];
}

export interface ClassGrowth {
  readonly name: string;
  readonly countBefore: number;
  readonly countAfter: number;
  readonly countDelta: number;
  readonly sizeBefore: number;
  readonly sizeAfter: number;
  readonly sizeDelta: number;
}

export interface SnapshotDiff {
  readonly kind: 'heapsnapshot-diff';
  readonly files: readonly [string, string];
  readonly totalSize: Change;
  readonly nodeCount: { readonly before: number; readonly after: number };
  /** Constructors whose self size grew the most: the leak suspects. */
  readonly grew: ClassGrowth[];
}

export function totalSize(g: HeapGraph): number {
  let total = 0;
  for (let n = 0; n < g.nodeCount; n++) total += g.nodeSelfSize[n]!;
  return total;
}

/** Count and self size per DevTools class name, largest self size first. */
export function classHistogram(g: HeapGraph): ClassStats[] {
  const object = typeCode(g.nodeTypeNames, 'object');
  const native = typeCode(g.nodeTypeNames, 'native');
  const stringCount = g.strings.length;
  // Objects are keyed by their name string, everything else by type, so the key space is bounded.
  const slotOfKey = new Int32Array(stringCount + g.nodeTypeNames.length).fill(-1);
  const names: string[] = [];
  const counts: number[] = [];
  const sizes: number[] = [];
  for (let n = 0; n < g.nodeCount; n++) {
    const type = g.nodeType[n]!;
    const key = type === object || type === native ? g.nodeName[n]! : stringCount + type;
    let slot = slotOfKey[key]!;
    if (slot < 0) {
      slot = slotOfKey[key] = names.length;
      names.push(className(g, n));
      counts.push(0);
      sizes.push(0);
    }
    counts[slot]!++;
    sizes[slot]! += g.nodeSelfSize[n]!;
  }
  // Two name strings can render the same class name (an object and a native both called "Foo").
  const merged = new Map<string, { name: string; count: number; selfSize: number }>();
  names.forEach((name, i) => {
    const m = merged.get(name);
    if (m) {
      m.count += counts[i]!;
      m.selfSize += sizes[i]!;
    } else merged.set(name, { name, count: counts[i]!, selfSize: sizes[i]! });
  });
  return [...merged.values()].sort((a, b) => b.selfSize - a.selfSize || b.count - a.count);
}

/**
 * A node holds its memory "itself" unless one object it dominates accounts for at least this
 * share of it. Without the rule the top retained list is the chain of wrappers above one large
 * object (global → module context → closure → array), all with the same size; with it, the list
 * names where memory fans out, which is where a leak accumulates.
 */
const PASS_THROUGH_SHARE = 0.5;

export function topRetained(g: HeapGraph, tree: DominatorTree, top: number): number[] {
  const { dominator, retained } = tree;
  const synthetic = typeCode(g.nodeTypeNames, 'synthetic');
  const largestChild = new Float64Array(g.nodeCount);
  for (let n = 0; n < g.nodeCount; n++) {
    if (n === ROOT) continue;
    const d = dominator[n]!;
    if (retained[n]! > largestChild[d]!) largestChild[d] = retained[n]!;
  }
  const best: number[] = [];
  for (let n = 0; n < g.nodeCount; n++) {
    const size = retained[n]!;
    if (n === ROOT || g.nodeType[n] === synthetic || largestChild[n]! >= size * PASS_THROUGH_SHARE) continue;
    if (best.length === top && size <= retained[best[top - 1]!]!) continue;
    let i = best.length === top ? top - 1 : best.length;
    while (i > 0 && retained[best[i - 1]!]! < size) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = n;
  }
  return best;
}

export function summarizeSnapshot(file: string, g: HeapGraph, tree: DominatorTree, count: number): SnapshotSummary {
  const total = totalSize(g);
  const share = (bytes: number): number => (total > 0 ? bytes / total : 0);
  const via = shortestRetainers(g);
  const top = topRetained(g, tree, count);
  const holders = namedHolders(g, via, top);
  return {
    kind: 'heapsnapshot',
    file,
    nodeCount: g.nodeCount,
    edgeCount: g.edgeCount,
    totalSize: total,
    constructors: classHistogram(g)
      .slice(0, count)
      .map((c) => ({ ...c, share: share(c.selfSize) })),
    topRetained: top.map((n) => ({
      id: g.nodeId[n]!,
      name: nodeLabel(g, n),
      className: className(g, n),
      selfSize: g.nodeSelfSize[n]!,
      retainedSize: tree.retained[n]!,
      share: share(tree.retained[n]!),
      dominator: { id: g.nodeId[tree.dominator[n]!]!, name: nodeLabel(g, tree.dominator[n]!) },
      path: retainerPath(g, via, n, holders.get(n)) ?? null,
    })),
  };
}

export interface SnapshotTotals {
  readonly file: string;
  readonly nodeCount: number;
  readonly totalSize: number;
  readonly classes: ClassStats[];
}

/** Compares two snapshots of one process by constructor: the classes that grew most come first. */
export function diffSnapshots(before: SnapshotTotals, after: SnapshotTotals, top: number): SnapshotDiff {
  const old = new Map(before.classes.map((c) => [c.name, c]));
  const grew: ClassGrowth[] = [];
  for (const c of after.classes) {
    const o = old.get(c.name);
    const sizeBefore = o?.selfSize ?? 0;
    const countBefore = o?.count ?? 0;
    if (c.selfSize <= sizeBefore && c.count <= countBefore) continue;
    grew.push({
      name: c.name,
      countBefore,
      countAfter: c.count,
      countDelta: c.count - countBefore,
      sizeBefore,
      sizeAfter: c.selfSize,
      sizeDelta: c.selfSize - sizeBefore,
    });
  }
  grew.sort((a, b) => b.sizeDelta - a.sizeDelta || b.countDelta - a.countDelta);
  return {
    kind: 'heapsnapshot-diff',
    files: [before.file, after.file],
    totalSize: change(before.totalSize, after.totalSize),
    nodeCount: { before: before.nodeCount, after: after.nodeCount },
    grew: grew.slice(0, top),
  };
}
