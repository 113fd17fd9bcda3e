import { describe, expect, it } from 'vitest';
import { jscGraph } from '../../src/analysis/jsc-snapshot.js';
import { edgeLabel, className } from '../../src/analysis/graph.js';
import { namedHolders, retainerPath, shortestRetainers } from '../../src/analysis/paths.js';
import { FrameError, FrameReader, frame } from '../../src/supervisor/bun-link/bun-link.js';

const framed = (...msgs: object[]) => Buffer.concat(msgs.map(frame));

describe('FrameReader', () => {
  const two = framed({ id: 1, result: {} }, { method: 'Heap.garbageCollected', params: { collection: { type: 'full' } } });
  const cases: [string, Buffer[]][] = [
    ['whole', [two]],
    ['byte by byte', [...two].map((b) => Buffer.from([b]))],
    ['split inside the length', [two.subarray(0, 2), two.subarray(2)]],
    ['split inside the body', [two.subarray(0, 9), two.subarray(9, 30), two.subarray(30)]],
  ];
  it.each(cases)('cuts frames fed %s', (_, chunks) => {
    const reader = new FrameReader(() => 1024);
    const got = chunks.flatMap((c) => reader.push(c)).map((f) => JSON.parse(f) as object);
    expect(got).toEqual([{ id: 1, result: {} }, { method: 'Heap.garbageCollected', params: { collection: { type: 'full' } } }]);
  });
  it('keeps multi-byte characters whole across chunks', () => {
    const f = frame({ s: 'héllo ☃' });
    const reader = new FrameReader(() => 1024);
    expect([...reader.push(f.subarray(0, 7)), ...reader.push(f.subarray(7))]).toEqual(['{"s":"héllo ☃"}']);
  });
  it('refuses a frame over the size allowed before reading it', () => {
    const reader = new FrameReader(() => 16);
    expect(() => reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2]))).toThrow(FrameError);
  });
});

describe('a JavaScriptCore snapshot as a heap graph', () => {
  // root → a compiled function and → scope (internal), scope .leaked (variable) → array, a compiled function (internal) → array,
  // array [0] → record, record [1] → record2, and an edge to a node the snapshot does not list.
  const snapshot = {
    version: 3,
    type: 'Inspector',
    nodes: [0, 0, 0, 0, 10, 40, 1, 0, 11, 16, 2, 2, 12, 100, 3, 2, 13, 100, 3, 2, 14, 30, 4, 1],
    nodeClassNames: ['<root>', 'JSModuleEnvironment', 'Array', 'LeakyRecord', 'FunctionCodeBlock'],
    edges: [0, 14, 0, 0, 0, 10, 0, 0, 10, 11, 3, 0, 14, 11, 0, 0, 11, 12, 2, 0, 11, 13, 2, 1, 11, 99, 1, 0],
    edgeTypes: ['Internal', 'Property', 'Index', 'Variable'],
    edgeNames: ['leaked'],
  };
  const g = jscGraph(snapshot);

  it('keeps every node, names each by its class, and drops edges to unlisted nodes', () => {
    expect(g.nodeCount).toBe(6);
    expect(g.edgeCount).toBe(6);
    expect([...Array(g.nodeCount).keys()].map((n) => className(g, n))).toEqual(['(synthetic)', 'JSModuleEnvironment', 'Array', 'LeakyRecord', 'LeakyRecord', 'FunctionCodeBlock']);
    expect([...g.nodeSelfSize]).toEqual([0, 40, 16, 100, 100, 30]);
  });

  it('writes a scope variable as .name and an index as [i]', () => {
    const labels = [...Array(g.edgeCount).keys()].map((e) => edgeLabel(g, e));
    // Grouped by source: the root's two, the scope's, the array's two, the compiled function's.
    expect(labels).toEqual(['{internal}', '{internal}', '.leaked', '[0]', '[1]', '{internal}']);
  });

  it("ends a holder's path on its named edge where an engine reference is shorter", () => {
    const via = shortestRetainers(g);
    expect(retainerPath(g, via, 2)?.steps.map((s) => s.edge)).toEqual(['{internal}', '{internal}']);
    const holders = namedHolders(g, via, [2]);
    expect(retainerPath(g, via, 2, holders.get(2))?.steps.map((s) => `${s.edge} ${s.node}`)).toEqual(['{internal} JSModuleEnvironment', '.leaked Array']);
  });

  it("never takes for a holder a node the root reaches only through the target (a record's back pointer)", () => {
    // root → array and → holder (internal); array [0] → record, record .owner → array; holder → scope, scope
    // .leaked → array. The record and the scope are as deep: the record must not be the array's holder, whose
    // path would come round to the array for ever.
    const looped = jscGraph({
      nodes: [0, 0, 0, 0, 11, 16, 1, 2, 12, 100, 2, 2, 20, 8, 3, 0, 10, 40, 4, 0],
      nodeClassNames: ['<root>', 'Array', 'LeakyRecord', 'Holder', 'JSModuleEnvironment'],
      edges: [0, 11, 0, 0, 0, 20, 0, 0, 11, 12, 2, 0, 12, 11, 1, 1, 20, 10, 0, 0, 10, 11, 3, 0],
      edgeTypes: ['Internal', 'Property', 'Index', 'Variable'],
      edgeNames: ['leaked', 'owner'],
    });
    const via = shortestRetainers(looped);
    const holders = namedHolders(looped, via, [1]);
    expect(retainerPath(looped, via, 1, holders.get(1))?.steps.map((s) => `${s.edge} ${s.node}`)).toEqual([
      '{internal} Holder',
      '{internal} JSModuleEnvironment',
      '.leaked Array',
    ]);
  });

  it('refuses a snapshot whose first node is not the root', () => {
    expect(() => jscGraph({ ...snapshot, nodes: [5, 0, 0, 0] })).toThrow(/first node is not the root/);
  });
});
