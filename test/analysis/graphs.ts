// Hand-made heap graphs for the pure analysis modules, and their .heapsnapshot text for the parser.
import type { HeapGraph } from '../../src/analysis/graph.js';

export const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape'];
export const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

export interface NodeSpec {
  name: string;
  self?: number;
  type?: string;
}

/** [from, to, edge type (default property), name (default "p<to>") or element index]. */
export type EdgeSpec = [number, number, string?, (string | number)?];

export interface GraphSpec {
  nodes: NodeSpec[];
  edges: EdgeSpec[];
}

/** The same graph as V8 would write it: flat arrays, to_node as field offsets, a string table. */
function stringTable(): { strings: string[]; intern: (s: string) => number } {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      index.set(s, i);
    }
    return i;
  };
  return { strings, intern };
}

export function snapshotJson(spec: GraphSpec): string {
  const { strings, intern } = stringTable();
  const byFrom = spec.nodes.map(() => [] as EdgeSpec[]);
  for (const e of spec.edges) byFrom[e[0]]!.push(e);
  const nodes: number[] = [];
  spec.nodes.forEach((n, i) => {
    nodes.push(NODE_TYPES.indexOf(n.type ?? 'object'), intern(n.name), i * 2 + 1, n.self ?? 0, byFrom[i]!.length, 0, 0);
  });
  const edges: number[] = [];
  for (const list of byFrom) {
    for (const [, to, type = 'property', name = `p${to}`] of list) {
      edges.push(EDGE_TYPES.indexOf(type), typeof name === 'number' ? name : intern(name), to * 7);
    }
  }
  const header = {
    meta: {
      node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
      node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
      edge_fields: ['type', 'name_or_index', 'to_node'],
      edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
    },
    node_count: spec.nodes.length,
    edge_count: edges.length / 3,
  };
  return `{"snapshot":${JSON.stringify(header)},\n"nodes":[${nodes.join(',')}],\n"edges":[${edges.join(',')}],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[],\n"strings":${JSON.stringify(strings)}}\n`;
}

export function makeGraph(spec: GraphSpec): HeapGraph {
  const n = spec.nodes.length;
  const { strings, intern } = stringTable();
  const edges = [...spec.edges].sort((a, b) => a[0] - b[0]);
  const firstEdge = new Uint32Array(n + 1);
  for (const [from] of edges) firstEdge[from + 1]!++;
  for (let i = 0; i < n; i++) firstEdge[i + 1]! += firstEdge[i]!;
  return {
    nodeCount: n,
    edgeCount: edges.length,
    nodeTypeNames: NODE_TYPES,
    edgeTypeNames: EDGE_TYPES,
    nodeType: Uint8Array.from(spec.nodes, (s) => NODE_TYPES.indexOf(s.type ?? 'object')),
    nodeName: Uint32Array.from(spec.nodes, (s) => intern(s.name)),
    nodeId: Uint32Array.from(spec.nodes, (_, i) => i * 2 + 1),
    nodeSelfSize: Float64Array.from(spec.nodes, (s) => s.self ?? 0),
    firstEdge,
    edgeType: Uint8Array.from(edges, (e) => EDGE_TYPES.indexOf(e[2] ?? 'property')),
    edgeNameOrIndex: Uint32Array.from(edges, (e) => (typeof e[3] === 'number' ? e[3] : intern(e[3] ?? `p${e[1]}`))),
    edgeTo: Uint32Array.from(edges, (e) => e[1]),
    strings,
  };
}
