/**
 * A parsed heap snapshot as columns of typed arrays. Node and edge references are ordinals
 * (not the raw field offsets V8 writes), so every algorithm indexes arrays directly.
 */
export interface HeapGraph {
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly nodeTypeNames: readonly string[];
  readonly edgeTypeNames: readonly string[];
  readonly nodeType: Uint8Array;
  /** Index into `strings`. */
  readonly nodeName: Uint32Array;
  readonly nodeId: Uint32Array;
  /** Float64 because external backing stores can exceed 4 GiB. */
  readonly nodeSelfSize: Float64Array;
  /** Edges of node n are firstEdge[n] .. firstEdge[n + 1] - 1; length nodeCount + 1. */
  readonly firstEdge: Uint32Array;
  readonly edgeType: Uint8Array;
  /** A string index, or the element/hidden index for those edge types. */
  readonly edgeNameOrIndex: Uint32Array;
  readonly edgeTo: Uint32Array;
  readonly strings: readonly string[];
  /**
   * Edge types that name a holder (JavaScriptCore's snapshots: a property or a scope's variable). Where an engine's
   * own references give a shorter path (a compiled function holding the constant it read), a path still ends on
   * the holder's named edge when there is one.
   */
  readonly holderEdgeTypes?: readonly number[];
}

/** Incoming edges, grouped by target node (the reverse of `firstEdge`/`edgeTo`). */
export interface Retainers {
  /** Retainers of node n are firstRetainer[n] .. firstRetainer[n + 1] - 1. */
  readonly firstRetainer: Uint32Array;
  readonly retainerFrom: Uint32Array;
  readonly retainerType: Uint8Array;
}

/** The node at ordinal 0 is V8's synthetic root; every GC root hangs below it. */
export const ROOT = 0;

/** Type code of a node or edge type name, or -1 when this snapshot does not have that type. */
export function typeCode(names: readonly string[], name: string): number {
  return names.indexOf(name);
}

export function buildRetainers(g: HeapGraph): Retainers {
  const { nodeCount, edgeCount, firstEdge, edgeTo, edgeType } = g;
  const firstRetainer = new Uint32Array(nodeCount + 1);
  for (let e = 0; e < edgeCount; e++) firstRetainer[edgeTo[e]! + 1]!++;
  for (let n = 0; n < nodeCount; n++) firstRetainer[n + 1]! += firstRetainer[n]!;
  const cursor = firstRetainer.slice(0, nodeCount);
  const retainerFrom = new Uint32Array(edgeCount);
  const retainerType = new Uint8Array(edgeCount);
  for (let from = 0; from < nodeCount; from++) {
    for (let e = firstEdge[from]!, end = firstEdge[from + 1]!; e < end; e++) {
      const slot = cursor[edgeTo[e]!]!++;
      retainerFrom[slot] = from;
      retainerType[slot] = edgeType[e]!;
    }
  }
  return { firstRetainer, retainerFrom, retainerType };
}

/** DevTools' class name: the constructor for objects, a bracketed category for everything else. */
export function className(g: HeapGraph, node: number): string {
  const type = g.nodeTypeNames[g.nodeType[node]!] ?? 'unknown';
  switch (type) {
    case 'object':
    case 'native':
      return g.strings[g.nodeName[node]!] ?? '';
    case 'hidden':
      return '(system)';
    case 'code':
      return '(compiled code)';
    default:
      return `(${type})`;
  }
}

/** How DevTools writes an edge in a retainer path: `.prop`, `[3]`, or `{internal}`. */
export function edgeLabel(g: HeapGraph, edge: number): string {
  const type = g.edgeTypeNames[g.edgeType[edge]!] ?? 'unknown';
  const value = g.edgeNameOrIndex[edge]!;
  if (type === 'element' || type === 'hidden') return `[${value}]`;
  const name = g.strings[value] ?? '';
  return type === 'property' || type === 'context' || type === 'shortcut' ? `.${name}` : `{${name}}`;
}

const LABEL_CHARS = 60;

/** A short human name for a node: its constructor, function name or (clipped) string value. */
export function nodeLabel(g: HeapGraph, node: number): string {
  const type = g.nodeTypeNames[g.nodeType[node]!] ?? 'unknown';
  const name = g.strings[g.nodeName[node]!] ?? '';
  const clip = (s: string): string => (s.length > LABEL_CHARS ? `${s.slice(0, LABEL_CHARS - 1)}…` : s);
  switch (type) {
    case 'closure':
      return `${clip(name) || '(anonymous)'}()`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return JSON.stringify(clip(name));
    case 'object':
    case 'native':
    case 'synthetic':
      return clip(name);
    default:
      return `(${type}) ${clip(name)}`.trimEnd();
  }
}
