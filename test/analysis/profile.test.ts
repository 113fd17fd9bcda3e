// Heap profile summary and diff on hand-made call trees.
import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../src/analysis/errors.js';
import { diffProfiles, readProfile, summarizeProfile } from '../../src/analysis/profile.js';

interface Frame {
  fn: string;
  url?: string;
  line?: number;
  col?: number;
  self?: number;
  children?: Frame[];
}

let nextId = 1;
function node(f: Frame): object {
  return {
    callFrame: { functionName: f.fn, scriptId: '1', url: f.url ?? '', lineNumber: f.line ?? 0, columnNumber: f.col ?? 0 },
    selfSize: f.self ?? 0,
    id: nextId++,
    children: (f.children ?? []).map(node),
  };
}

function profile(children: Frame[]): object {
  return { head: node({ fn: '(root)', children }), samples: [{ size: 1, nodeId: 1, ordinal: 1 }] };
}

const leak = { fn: 'leak', url: 'file:///app/a.js', line: 9, col: 4 };
const tidy = { fn: 'tidy', url: 'file:///app/a.js', line: 19, col: 0 };
const other = { fn: 'other', url: 'file:///app/b.js', line: 0, col: 0 };

describe('heap profile summary', () => {
  // The same site reached through two call paths counts once, with both amounts.
  const table = readProfile(
    profile([
      { fn: 'main', url: 'file:///app/main.js', children: [{ ...leak, self: 100 }, { ...tidy, self: 30 }] },
      { fn: 'timer', children: [{ ...leak, self: 50 }, { ...other, self: 20 }] },
    ]),
  );

  it('ranks sites by live bytes, merging call paths, with 1-based positions', () => {
    const s = summarizeProfile('x.heapprofile', table, 10);
    expect(s.totalBytes).toBe(200);
    expect(s.sampleCount).toBe(1);
    expect(s.sites).toEqual([
      { functionName: 'leak', url: 'file:///app/a.js', line: 10, column: 5, bytes: 150, share: 0.75 },
      { functionName: 'tidy', url: 'file:///app/a.js', line: 20, column: 1, bytes: 30, share: 0.15 },
      { functionName: 'other', url: 'file:///app/b.js', line: 1, column: 1, bytes: 20, share: 0.1 },
    ]);
  });

  it('aggregates by function and by file', () => {
    const s = summarizeProfile('x.heapprofile', table, 10);
    expect(s.functions.map((f) => [f.functionName, f.bytes])).toEqual([
      ['leak', 150],
      ['tidy', 30],
      ['other', 20],
    ]);
    expect(s.files).toEqual([
      { url: 'file:///app/a.js', bytes: 180, share: 0.9 },
      { url: 'file:///app/b.js', bytes: 20, share: 0.1 },
    ]);
  });

  it('keeps only the top N of each list', () => {
    const s = summarizeProfile('x.heapprofile', table, 1);
    expect([s.sites.length, s.functions.length, s.files.length]).toEqual([1, 1, 1]);
  });

  it('names anonymous functions', () => {
    const t = readProfile(profile([{ fn: '', url: 'file:///app/c.js', self: 8 }]));
    expect(summarizeProfile('x', t, 5).sites[0]?.functionName).toBe('(anonymous)');
  });

  it.each([
    ['null', null],
    ['an object without head', { nodes: [] }],
    ['a node without callFrame', { head: { selfSize: 0, children: [] } }],
    ['a negative size', { head: node({ fn: 'x', self: -1 }) }],
    ['children that are not a list', { head: { ...node({ fn: 'x' }), children: {} } }],
  ])('rejects %s', (_, raw) => {
    expect(() => readProfile(raw)).toThrow(AnalysisError);
    expect(() => readProfile(raw)).toThrow(/^not a valid heap profile: /);
  });
});

describe('heap profile diff', () => {
  it('ranks the sites that grew most first and leaves out those that did not grow', () => {
    const before = readProfile(profile([{ ...leak, self: 100 }, { ...tidy, self: 300 }, { ...other, self: 10 }]));
    const after = readProfile(profile([{ ...leak, self: 900 }, { ...tidy, self: 200 }, { ...other, self: 60 }]));
    const d = diffProfiles(['a', 'b'], before, after, 10);
    expect(d.totalBytes).toEqual({ before: 410, after: 1160, delta: 750 });
    expect(d.grew.map((g) => [g.functionName, g.before, g.after, g.delta])).toEqual([
      ['leak', 100, 900, 800],
      ['other', 10, 60, 50],
    ]);
  });
});
