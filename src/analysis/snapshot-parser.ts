import { closeSync, openSync, readSync } from 'node:fs';
import { AnalysisError } from './errors.js';
import type { HeapGraph } from './graph.js';

/*
 * A push parser for exactly the .heapsnapshot layout V8 writes. It never holds the file: the small
 * "snapshot" header is captured and JSON.parsed, the node and edge arrays go digit by digit into
 * typed arrays sized from the header, and strings are decoded one at a time. Chunks may split the
 * input anywhere, including inside a number, a UTF-8 sequence or a \uXXXX escape.
 */

const enum Mode {
  Open,
  Key,
  KeyText,
  Colon,
  AfterValue,
  Capture,
  Numbers,
  Strings,
  End,
}

const enum Str {
  Raw,
  Escape,
  Unicode,
}

const enum NodeRole {
  Ignore,
  Type,
  Name,
  Id,
  SelfSize,
  EdgeCount,
}

const enum EdgeRole {
  Ignore,
  Type,
  Name,
  To,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
/** The header is a few KB; anything this large means the file is not a snapshot. */
const MAX_HEADER_BYTES = 1 << 20;
const READ_CHUNK_BYTES = 1 << 20;

const SIMPLE_ESCAPES: Record<number, string> = {
  0x22: '"',
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

interface Header {
  nodeFields: string[];
  edgeFields: string[];
  nodeTypeNames: string[];
  edgeTypeNames: string[];
  nodeCount: number;
  edgeCount: number;
}

function bad(message: string): AnalysisError {
  return new AnalysisError(`not a valid heap snapshot: ${message}`);
}

function parseHeader(text: string): Header {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('unreadable "snapshot" header');
  }
  const h = raw as {
    meta?: { node_fields?: unknown; node_types?: unknown; edge_fields?: unknown; edge_types?: unknown };
    node_count?: unknown;
    edge_count?: unknown;
  };
  const meta = h.meta;
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (!meta || !isStrings(meta.node_fields) || !isStrings(meta.edge_fields)) throw bad('header has no field list');
  const nodeTypes: unknown = Array.isArray(meta.node_types) ? meta.node_types[meta.node_fields.indexOf('type')] : undefined;
  const edgeTypes: unknown = Array.isArray(meta.edge_types) ? meta.edge_types[meta.edge_fields.indexOf('type')] : undefined;
  if (!isStrings(nodeTypes) || !isStrings(edgeTypes)) throw bad('header has no type names');
  for (const f of ['type', 'name', 'id', 'self_size', 'edge_count']) {
    if (!meta.node_fields.includes(f)) throw bad(`nodes have no "${f}" field`);
  }
  for (const f of ['type', 'name_or_index', 'to_node']) {
    if (!meta.edge_fields.includes(f)) throw bad(`edges have no "${f}" field`);
  }
  const count = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw bad(`bad ${what}`);
    return v;
  };
  return {
    nodeFields: meta.node_fields,
    edgeFields: meta.edge_fields,
    nodeTypeNames: nodeTypes,
    edgeTypeNames: edgeTypes,
    nodeCount: count(h.node_count, 'node_count'),
    edgeCount: count(h.edge_count, 'edge_count'),
  };
}

export class SnapshotParser {
  private mode = Mode.Open;
  private key = '';
  private header: Header | undefined;

  /** Container nesting and string state for values that are captured or skipped. */
  private depth = 0;
  private inString = false;
  private escaped = false;
  private capturing = false;
  private captured: Buffer[] = [];
  private capturedBytes = 0;

  /** Numeric arrays: which one is being read, and the number in progress. */
  private target: 'nodes' | 'edges' = 'nodes';
  private current = 0;
  private inNumber = false;
  private opened = false;
  /** Position of the next value: row (node or edge ordinal) and field within it. */
  private row = 0;
  private field = 0;
  private fieldCount = 1;
  private nodeRoles = new Uint8Array(0);
  private edgeRoles = new Uint8Array(0);
  private seen = new Set<string>();

  private nodeType = new Uint8Array(0);
  private nodeName = new Uint32Array(0);
  private nodeId = new Uint32Array(0);
  private nodeSelfSize = new Float64Array(0);
  private firstEdge = new Uint32Array(1);
  private edgeType = new Uint8Array(0);
  private edgeNameOrIndex = new Uint32Array(0);
  private edgeTo = new Uint32Array(0);

  /** Strings array: decoded pieces and raw bytes of the string being read, if it spans chunks. */
  private readonly strings: string[] = [];
  private inStringsValue = false;
  private strState = Str.Raw;
  private pieces: string[] = [];
  private rawPending: Buffer[] = [];
  private unicodeDigits = 0;
  private unicodeValue = 0;

  write(chunk: Buffer): void {
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      switch (this.mode) {
        case Mode.Open: {
          const c = chunk[i++]!;
          if (c === OPEN_BRACE) this.mode = Mode.Key;
          else if (!isSpace(c)) throw new AnalysisError('not a heap snapshot');
          break;
        }
        case Mode.Key: {
          const c = chunk[i]!;
          if (isSpace(c)) i++;
          else if (c === QUOTE) {
            this.key = '';
            this.mode = Mode.KeyText;
            i++;
          } else throw bad('expected a key');
          break;
        }
        case Mode.KeyText: {
          const end = chunk.indexOf(QUOTE, i);
          const stop = end < 0 ? len : end;
          this.key += chunk.toString('latin1', i, stop);
          if (this.key.length > 64) throw bad('unexpected key');
          if (end >= 0) this.mode = Mode.Colon;
          i = stop + 1;
          break;
        }
        case Mode.Colon: {
          const c = chunk[i++]!;
          if (c === COLON) this.startValue();
          else if (!isSpace(c)) throw bad('expected ":"');
          break;
        }
        case Mode.AfterValue: {
          const c = chunk[i]!;
          if (isSpace(c)) i++;
          else if (c === COMMA) {
            this.mode = Mode.Key;
            i++;
          } else if (c === CLOSE_BRACE) {
            this.mode = Mode.End;
            i++;
          } else throw bad('expected "," or "}"');
          break;
        }
        case Mode.Capture:
          i = this.scanValue(chunk, i);
          break;
        case Mode.Numbers:
          i = this.readNumbers(chunk, i);
          break;
        case Mode.Strings:
          i = this.readStrings(chunk, i);
          break;
        case Mode.End:
          if (!isSpace(chunk[i]!)) throw bad('data after the end');
          i++;
          break;
      }
    }
  }

  end(): HeapGraph {
    if (this.mode === Mode.Open) throw new AnalysisError('empty file');
    if (this.mode !== Mode.End) throw new AnalysisError(`truncated heap snapshot (ends inside "${this.key}")`);
    for (const k of ['nodes', 'edges', 'strings']) if (!this.seen.has(k)) throw bad(`no "${k}" array`);
    // Reading "nodes" required the header, so it is there.
    const h = this.header!;
    const stringCount = this.strings.length;
    for (let n = 0; n < h.nodeCount; n++) {
      if (this.nodeName[n]! >= stringCount || this.nodeType[n]! >= h.nodeTypeNames.length) {
        throw bad(`node ${n} has an unknown name or type`);
      }
    }
    const element = h.edgeTypeNames.indexOf('element');
    const hidden = h.edgeTypeNames.indexOf('hidden');
    for (let e = 0; e < h.edgeCount; e++) {
      const t = this.edgeType[e]!;
      if (t >= h.edgeTypeNames.length) throw bad(`edge ${e} has an unknown type`);
      if (t !== element && t !== hidden && this.edgeNameOrIndex[e]! >= stringCount) {
        throw bad(`edge ${e} has an unknown name`);
      }
    }
    return {
      nodeCount: h.nodeCount,
      edgeCount: h.edgeCount,
      nodeTypeNames: h.nodeTypeNames,
      edgeTypeNames: h.edgeTypeNames,
      nodeType: this.nodeType,
      nodeName: this.nodeName,
      nodeId: this.nodeId,
      nodeSelfSize: this.nodeSelfSize,
      firstEdge: this.firstEdge,
      edgeType: this.edgeType,
      edgeNameOrIndex: this.edgeNameOrIndex,
      edgeTo: this.edgeTo,
      strings: this.strings,
    };
  }

  private startValue(): void {
    if (this.seen.has(this.key)) throw bad(`"${this.key}" appears twice`);
    this.seen.add(this.key);
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.capturing = this.key === 'snapshot';
    this.captured = [];
    this.capturedBytes = 0;
    this.mode = Mode.Capture;
    if (this.key === 'nodes' || this.key === 'edges' || this.key === 'strings') {
      if (!this.header) throw bad(`"${this.key}" comes before the header`);
      if (this.key === 'strings') this.inStringsValue = false;
      else this.startNumbers(this.key);
      this.mode = this.key === 'strings' ? Mode.Strings : Mode.Numbers;
    }
  }

  private startNumbers(key: 'nodes' | 'edges'): void {
    const h = this.header!;
    this.target = key;
    this.current = 0;
    this.inNumber = false;
    this.opened = false;
    this.row = 0;
    this.field = 0;
    if (key === 'nodes') {
      const n = h.nodeCount;
      this.fieldCount = h.nodeFields.length;
      const roles: Record<string, NodeRole> = {
        type: NodeRole.Type,
        name: NodeRole.Name,
        id: NodeRole.Id,
        self_size: NodeRole.SelfSize,
        edge_count: NodeRole.EdgeCount,
      };
      this.nodeRoles = Uint8Array.from(h.nodeFields, (f) => roles[f] ?? NodeRole.Ignore);
      this.nodeType = new Uint8Array(n);
      this.nodeName = new Uint32Array(n);
      this.nodeId = new Uint32Array(n);
      this.nodeSelfSize = new Float64Array(n);
      this.firstEdge = new Uint32Array(n + 1);
    } else {
      if (!this.seen.has('nodes')) throw bad('"edges" comes before "nodes"');
      const e = h.edgeCount;
      this.fieldCount = h.edgeFields.length;
      const roles: Record<string, EdgeRole> = { type: EdgeRole.Type, name_or_index: EdgeRole.Name, to_node: EdgeRole.To };
      this.edgeRoles = Uint8Array.from(h.edgeFields, (f) => roles[f] ?? EdgeRole.Ignore);
      this.edgeType = new Uint8Array(e);
      this.edgeNameOrIndex = new Uint32Array(e);
      this.edgeTo = new Uint32Array(e);
    }
  }

  /** Skips a JSON value, or records its bytes when it is the header. */
  private scanValue(chunk: Buffer, start: number): number {
    let i = start;
    let closed = false;
    const len = chunk.length;
    while (i < len && !closed) {
      const c = chunk[i++]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) closed = --this.depth === 0;
      else if (this.depth === 0 && !isSpace(c)) throw bad(`"${this.key}" is not an object or array`);
    }
    if (this.capturing) {
      this.captured.push(Buffer.from(chunk.subarray(start, i)));
      this.capturedBytes += i - start;
      if (this.capturedBytes > MAX_HEADER_BYTES) throw bad('header too large');
      if (closed) this.header = parseHeader(Buffer.concat(this.captured).toString('utf8'));
    }
    if (closed) {
      this.captured = [];
      this.mode = Mode.AfterValue;
    }
    return i;
  }

  private readNumbers(chunk: Buffer, start: number): number {
    let i = start;
    const len = chunk.length;
    if (!this.opened) {
      while (i < len && isSpace(chunk[i]!)) i++;
      if (i === len) return i;
      if (chunk[i] !== OPEN_BRACKET) throw bad(`"${this.key}" is not an array`);
      this.opened = true;
      i++;
    }
    // The hot loop of the whole analysis: state lives in locals and goes back to fields at the end.
    const nodes = this.target === 'nodes';
    const fieldCount = this.fieldCount;
    let current = this.current;
    let inNumber = this.inNumber;
    let row = this.row;
    let field = this.field;
    for (; i < len; i++) {
      const c = chunk[i]!;
      if (c >= 0x30 && c <= 0x39) {
        current = current * 10 + (c - 0x30);
        inNumber = true;
      } else if (c === COMMA || c === CLOSE_BRACKET) {
        if (inNumber) {
          if (nodes) this.storeNode(row, field, current);
          else this.storeEdge(row, field, current);
          if (++field === fieldCount) {
            field = 0;
            row++;
          }
          current = 0;
          inNumber = false;
        } else if (c === COMMA || row > 0 || field > 0) throw bad(`stray "," in "${this.key}"`);
        if (c === CLOSE_BRACKET) {
          this.row = row;
          this.field = field;
          this.finishNumbers();
          return i + 1;
        }
      } else if (!isSpace(c)) throw bad(`unexpected character in "${this.key}"`);
    }
    this.current = current;
    this.inNumber = inNumber;
    this.row = row;
    this.field = field;
    return i;
  }

  private storeNode(n: number, field: number, value: number): void {
    if (n >= this.header!.nodeCount) throw bad('more nodes than node_count');
    switch (this.nodeRoles[field]) {
      case NodeRole.Type:
        this.nodeType[n] = value;
        break;
      case NodeRole.Name:
        this.nodeName[n] = value;
        break;
      case NodeRole.Id:
        this.nodeId[n] = value;
        break;
      case NodeRole.SelfSize:
        this.nodeSelfSize[n] = value;
        break;
      case NodeRole.EdgeCount:
        this.firstEdge[n + 1] = value;
        break;
    }
  }

  private storeEdge(e: number, field: number, value: number): void {
    const h = this.header!;
    if (e >= h.edgeCount) throw bad('more edges than edge_count');
    switch (this.edgeRoles[field]) {
      case EdgeRole.Type:
        this.edgeType[e] = value;
        break;
      case EdgeRole.Name:
        this.edgeNameOrIndex[e] = value;
        break;
      case EdgeRole.To: {
        const to = value / h.nodeFields.length;
        if (!Number.isInteger(to) || to >= h.nodeCount) throw bad(`edge ${e} points outside the node list`);
        this.edgeTo[e] = to;
        break;
      }
    }
  }

  private finishNumbers(): void {
    const h = this.header!;
    this.mode = Mode.AfterValue;
    this.current = 0;
    this.inNumber = false;
    if (this.target === 'nodes') {
      if (this.field !== 0 || this.row !== h.nodeCount) throw bad('node_count does not match the nodes');
      const firstEdge = this.firstEdge;
      for (let n = 0; n < h.nodeCount; n++) firstEdge[n + 1]! += firstEdge[n]!;
      if (firstEdge[h.nodeCount] !== h.edgeCount) throw bad('edge counts of nodes do not add up to edge_count');
    } else if (this.target === 'edges') {
      if (this.field !== 0 || this.row !== h.edgeCount) throw bad('edge_count does not match the edges');
    }
  }

  private readStrings(chunk: Buffer, start: number): number {
    let i = start;
    const len = chunk.length;
    while (i < len) {
      if (this.inString) {
        i = this.readString(chunk, i);
        continue;
      }
      const c = chunk[i]!;
      if (!this.inStringsValue) {
        if (c === OPEN_BRACKET) this.inStringsValue = true;
        else if (!isSpace(c)) throw bad('"strings" is not an array');
      } else if (c === QUOTE) {
        this.inString = true;
        this.strState = Str.Raw;
      } else if (c === CLOSE_BRACKET) {
        this.mode = Mode.AfterValue;
        this.inString = false;
        return i + 1;
      } else if (c !== COMMA && !isSpace(c)) throw bad('"strings" holds a non-string');
      i++;
    }
    return i;
  }

  private readString(chunk: Buffer, start: number): number {
    let i = start;
    const len = chunk.length;
    while (i < len) {
      if (this.strState === Str.Raw) {
        let j = i;
        while (j < len && chunk[j] !== QUOTE && chunk[j] !== BACKSLASH) j++;
        if (j === len) {
          this.rawPending.push(Buffer.from(chunk.subarray(i, j)));
          return j;
        }
        const closing = chunk[j] === QUOTE;
        if (closing && this.pieces.length === 0 && this.rawPending.length === 0) {
          this.strings.push(chunk.toString('utf8', i, j));
        } else {
          this.flushRaw(chunk.subarray(i, j));
          if (closing) {
            this.strings.push(this.pieces.join(''));
            this.pieces = [];
          } else this.strState = Str.Escape;
        }
        i = j + 1;
        if (closing) {
          this.inString = false;
          return i;
        }
      } else if (this.strState === Str.Escape) {
        const c = chunk[i++]!;
        if (c === 0x75) {
          this.strState = Str.Unicode;
          this.unicodeDigits = 0;
          this.unicodeValue = 0;
        } else {
          const s = SIMPLE_ESCAPES[c];
          if (s === undefined) throw bad('bad escape in a string');
          this.pieces.push(s);
          this.strState = Str.Raw;
        }
      } else {
        const d = hexValue(chunk[i++]!);
        if (d < 0) throw bad('bad \\u escape in a string');
        this.unicodeValue = this.unicodeValue * 16 + d;
        if (++this.unicodeDigits === 4) {
          // Surrogate halves stay separate code units; join() pairs them like JSON.parse does.
          this.pieces.push(String.fromCharCode(this.unicodeValue));
          this.strState = Str.Raw;
        }
      }
    }
    return i;
  }

  /** Decodes raw bytes only once they are complete, so a UTF-8 sequence split by a chunk stays whole. */
  private flushRaw(tail: Buffer): void {
    if (this.rawPending.length > 0) {
      this.rawPending.push(tail);
      this.pieces.push(Buffer.concat(this.rawPending).toString('utf8'));
      this.rawPending = [];
    } else if (tail.length > 0) this.pieces.push(tail.toString('utf8'));
  }
}

/** Reads a .heapsnapshot file in fixed chunks, reporting bytes consumed so far. */
export function parseSnapshotFile(path: string, onProgress?: (bytesRead: number) => void): HeapGraph {
  const parser = new SnapshotParser();
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      parser.write(n === buffer.length ? buffer : buffer.subarray(0, n));
      total += n;
      onProgress?.(total);
    }
  } finally {
    closeSync(fd);
  }
  return parser.end();
}
