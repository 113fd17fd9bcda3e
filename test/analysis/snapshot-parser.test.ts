// The streaming parser against JSON.parse, with the input split at every possible place.
import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../src/analysis/errors.js';
import type { HeapGraph } from '../../src/analysis/graph.js';
import { SnapshotParser } from '../../src/analysis/snapshot-parser.js';
import { type GraphSpec, makeGraph, snapshotJson } from './graphs.js';

function parse(text: string | Buffer, chunkSize = Infinity): HeapGraph {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const parser = new SnapshotParser();
  for (let i = 0; i < bytes.length; i += chunkSize) parser.write(bytes.subarray(i, i + chunkSize));
  return parser.end();
}

function parseError(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AnalysisError);
    return (err as Error).message;
  }
  throw new Error('parsed without an error');
}

const spec: GraphSpec = {
  nodes: [
    { name: '', type: 'synthetic' },
    { name: '(GC roots)', type: 'synthetic' },
    { name: 'Leaky', self: 4294967296 * 3 },
    { name: 'hello', type: 'string', self: 24 },
    { name: 'onEvent', type: 'closure', self: 32 },
  ],
  edges: [
    [0, 1, 'element', 1],
    [0, 2, 'shortcut', 'global'],
    [1, 2, 'element', 7],
    [2, 3, 'property', 'greeting'],
    [2, 4, 'property', 'handler'],
    [4, 2, 'weak', 'back'],
    [3, 3, 'internal', 'self'],
  ],
};

/** Names that exercise every escape, multi-byte UTF-8 and a surrogate pair. */
const trickyNames = ['quote " inside', 'back\\slash', 'new\nline\ttab', '\u0001\u001f control', 'é ü 中文', '😀 emoji', '', 'a/b'];

function trickySpec(): GraphSpec {
  return { nodes: [{ name: '', type: 'synthetic' }, ...trickyNames.map((name) => ({ name, type: 'string' }))], edges: trickyNames.map((_, i): [number, number] => [0, i + 1]) };
}

describe('SnapshotParser', () => {
  it('produces the graph the snapshot describes', () => {
    expect(parse(snapshotJson(spec))).toEqual(makeGraph(spec));
  });

  it.each([1, 2, 3, 5, 7, 13, 64])('gives the same result whatever the chunk size (%i bytes)', (size) => {
    const text = snapshotJson(trickySpec());
    expect(parse(text, size)).toEqual(parse(text));
  });

  it('decodes strings exactly as JSON.parse does, raw UTF-8 and \\u escapes alike', () => {
    const raw = snapshotJson(trickySpec());
    // V8 writes non-ASCII as \uXXXX escapes: the same strings, escaped, must decode identically.
    const escaped = raw.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(escaped).toContain('\\ud83d\\ude00');
    const expected = (JSON.parse(raw) as { strings: string[] }).strings;
    for (const text of [raw, escaped]) {
      for (const size of [1, 2, 3, 4, 5, 6]) expect(parse(text, size).strings).toEqual(expected);
    }
    expect(expected).toEqual(expect.arrayContaining(trickyNames));
  });

  it('reads self sizes beyond 32 bits', () => {
    expect(parse(snapshotJson(spec)).nodeSelfSize[2]).toBe(4294967296 * 3);
  });

  it('skips sections it does not need, whatever they hold', () => {
    const text = snapshotJson(spec).replace('"trace_tree":[]', '"trace_tree":[1,[2,"x]\\"",{"a":[3]}],[]]');
    expect(parse(text, 3)).toEqual(makeGraph(spec));
  });

  it('says a file is empty', () => {
    expect(parseError('')).toBe('empty file');
    expect(parseError(' \n ')).toBe('empty file');
  });

  it('says a cut-off file is truncated, wherever it was cut', () => {
    const text = snapshotJson(spec);
    for (let cut = 1; cut < text.trimEnd().length; cut += 7) {
      expect(parseError(text.slice(0, cut))).toMatch(/^truncated heap snapshot \(ends inside "\w*"\)$/);
    }
    expect(parseError(text.slice(0, text.indexOf('"edges"') + 20))).toBe('truncated heap snapshot (ends inside "edges")');
  });

  it.each([
    ['other JSON', '{"nodes":[1,2,3]}', /comes before the header/],
    ['not JSON at all', 'hello', /^not a heap snapshot$/],
    ['more nodes than the header says', (t: string) => t.replace('"node_count":5', '"node_count":4'), /more nodes than node_count/],
    ['fewer nodes than the header says', (t: string) => t.replace('"node_count":5', '"node_count":6'), /node_count does not match/],
    ['an edge to nowhere', (t: string) => t.replace('"edges":[1,1,7', '"edges":[1,1,700'), /points outside the node list/],
    ['an edge into the middle of a node', (t: string) => t.replace('"edges":[1,1,7', '"edges":[1,1,8'), /points outside the node list/],
    ['a name not in the string table', (t: string) => t.replace(/"strings":\[.*\]/, '"strings":[""]'), /unknown name/],
    ['a letter among the numbers', (t: string) => t.replace('"nodes":[9', '"nodes":[x'), /unexpected character in "nodes"/],
    ['garbage after the end', (t: string) => `${t}x`, /data after the end/],
  ])('rejects %s with a one-line reason', (_, make, reason) => {
    const text = typeof make === 'string' ? make : make(snapshotJson(spec));
    expect(text).not.toBe(snapshotJson(spec));
    const message = parseError(text);
    expect(message).toMatch(reason);
    expect(message).not.toContain('\n');
  });
});
