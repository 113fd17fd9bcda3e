import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { describeIoError } from './detect.js';
import { AnalysisError } from './errors.js';
import type { HeapGraph } from './graph.js';

/*
 * A JavaScriptCore heap snapshot (Bun's `Heap.snapshot`, version 2 or 3) turned into the graph V8's parser
 * produces, so dominators, retainer paths, histograms and diffs are the same code for both. The layout:
 *   nodes: [id, selfSize, classNameIndex, flags]*    (the first node is the root, id 0)
 *   edges: [fromId, toId, edgeTypeIndex, data]*       (data: an edgeNames index for Property and Variable edges,
 *                                                      the element's index for Index ones, nothing for Internal)
 * Nodes have no names of their own: each is named by its class (a constructor such as `LeakyRecord`, or an
 * engine cell such as `Structure`). A Variable edge is a scope's binding (a module-level `const` holding a leak),
 * which is what V8 calls a context edge, and is written `.name` in a path likewise.
 *
 * Read whole with JSON.parse: a snapshot comes from the inspector as one string, which Node cannot hold past
 * ~512 MiB anyway, and the snapshots of real agents are far below that (benchmarks/results/design-figures.md).
 */

const MAX_BYTES = 512 * 1024 * 1024;
const NODE_FIELDS = 4;
const EDGE_FIELDS = 4;
const HEAD_BYTES = 64;

const EDGE_TYPES: Record<string, string> = { Internal: 'internal', Property: 'property', Index: 'element', Variable: 'context' };
const NODE_TYPES = ['synthetic', 'object'] as const;
const OBJECT = 1;

interface JscSnapshot {
  nodes: number[];
  nodeClassNames: string[];
  edges: number[];
  edgeTypes: string[];
  edgeNames: string[];
}

function bad(message: string): AnalysisError {
  return new AnalysisError(`not a valid JavaScriptCore heap snapshot: ${message}`);
}

/** JavaScriptCore's snapshots open with their version; V8's with their "snapshot" header. */
export function isJscSnapshotFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, head, 0, HEAD_BYTES, 0);
    return /^\uFEFF?\s*\{\s*"version"\s*:/.test(head.toString('utf8', 0, n));
  } finally {
    closeSync(fd);
  }
}

function read(path: string, size: number): JscSnapshot {
  if (size > MAX_BYTES) throw new AnalysisError(`too large for a JavaScriptCore heap snapshot (over ${MAX_BYTES / 1024 / 1024} MiB)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw bad('truncated or malformed (invalid JSON)');
    throw new AnalysisError(describeIoError(err));
  }
  const s = raw as Partial<JscSnapshot> & { version?: unknown };
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (s.version !== 2 && s.version !== 3) throw bad(`version ${String(s.version)} (2 or 3 expected)`);
  if (!Array.isArray(s.nodes) || !Array.isArray(s.edges)) throw bad('no nodes or edges');
  if (!isStrings(s.nodeClassNames) || !isStrings(s.edgeTypes) || !isStrings(s.edgeNames)) throw bad('no class, edge type or edge names');
  if (s.nodes.length % NODE_FIELDS !== 0 || s.edges.length % EDGE_FIELDS !== 0 || s.nodes.length === 0) throw bad('truncated node or edge list');
  return s as JscSnapshot;
}

/** Reads a JavaScriptCore snapshot file into a HeapGraph. */
export function parseJscSnapshotFile(path: string, size: number, onProgress?: (bytesRead: number) => void): HeapGraph {
  const graph = jscGraph(read(path, size));
  onProgress?.(size);
  return graph;
}

export function jscGraph(s: JscSnapshot): HeapGraph {
  const { nodes, edges, nodeClassNames, edgeNames } = s;
  const nodeCount = nodes.length / NODE_FIELDS;
  if (nodes[0] !== 0) throw bad('the first node is not the root');
  // Strings: class names, then edge names, then the label of internal edges.
  const edgeNameBase = nodeClassNames.length;
  const internalName = edgeNameBase + edgeNames.length;
  const strings = [...nodeClassNames, ...edgeNames, 'internal'];
  const ordinal = new Map<number, number>();
  const nodeId = new Uint32Array(nodeCount);
  const nodeName = new Uint32Array(nodeCount);
  const nodeType = new Uint8Array(nodeCount).fill(OBJECT);
  const nodeSelfSize = new Float64Array(nodeCount);
  for (let n = 0; n < nodeCount; n++) {
    const at = n * NODE_FIELDS;
    const cls = nodes[at + 2]!;
    if (!(cls >= 0 && cls < nodeClassNames.length)) throw bad(`node ${nodes[at]} has no class name`);
    nodeId[n] = nodes[at]!;
    nodeSelfSize[n] = nodes[at + 1]!;
    nodeName[n] = cls;
    ordinal.set(nodes[at]!, n);
  }
  nodeType[0] = 0;
  const typeNames = [...new Set(Object.values(EDGE_TYPES))];
  const internalType = typeNames.indexOf('internal');
  const typeOf = s.edgeTypes.map((t) => typeNames.indexOf(EDGE_TYPES[t] ?? 'internal'));
  // Edges to nodes the snapshot does not list are left out; the rest grouped by their source's ordinal.
  const all = edges.length / EDGE_FIELDS;
  const from = new Uint32Array(all);
  const to = new Uint32Array(all);
  const firstEdge = new Uint32Array(nodeCount + 1);
  let kept = 0;
  for (let e = 0; e < all; e++) {
    const a = ordinal.get(edges[e * EDGE_FIELDS]!);
    const b = ordinal.get(edges[e * EDGE_FIELDS + 1]!);
    if (a === undefined || b === undefined) {
      from[e] = to[e] = 0xffffffff;
      continue;
    }
    from[e] = a;
    to[e] = b;
    firstEdge[a + 1]!++;
    kept++;
  }
  for (let n = 0; n < nodeCount; n++) firstEdge[n + 1]! += firstEdge[n]!;
  const cursor = firstEdge.slice(0, nodeCount);
  const edgeTo = new Uint32Array(kept);
  const edgeType = new Uint8Array(kept);
  const edgeNameOrIndex = new Uint32Array(kept);
  // Named references first, then indexed, then internal ones: a retainer path takes the first edge it meets
  // into an object, and a scope's `.leakedRecords` names a holder where its internal twin says nothing.
  for (const pass of [['Variable', 'Property'], ['Index'], ['Internal']]) {
    for (let e = 0; e < all; e++) {
      if (from[e] === 0xffffffff) continue;
      const typeIndex = edges[e * EDGE_FIELDS + 2]!;
      const jscType = s.edgeTypes[typeIndex] ?? 'Internal';
      if (!pass.includes(EDGE_TYPES[jscType] ? jscType : 'Internal')) continue;
      const slot = cursor[from[e]!]!++;
      const data = edges[e * EDGE_FIELDS + 3]!;
      edgeTo[slot] = to[e]!;
      edgeType[slot] = typeOf[typeIndex] ?? internalType;
      edgeNameOrIndex[slot] = jscType === 'Index' ? data : pass[0] === 'Variable' && data < edgeNames.length ? edgeNameBase + data : internalName;
    }
  }
  return {
    nodeCount,
    edgeCount: kept,
    nodeTypeNames: NODE_TYPES,
    edgeTypeNames: typeNames,
    nodeType,
    nodeName,
    nodeId,
    nodeSelfSize,
    firstEdge,
    edgeType,
    edgeNameOrIndex,
    edgeTo,
    strings,
    holderEdgeTypes: [typeNames.indexOf('property'), typeNames.indexOf('context')],
  };
}
