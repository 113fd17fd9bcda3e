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

  it("leaves out what the probe allocated itself (a profile it read while sampling), as a path or a file URL", () => {
    const withProbe = readProfile(
      profile([
        { ...leak, self: 100 },
        { fn: 'profile', url: '/x/node_modules/cfn-supervise/dist/probe/inspector.cjs', children: [{ fn: 'post', url: 'node:inspector', self: 500 }] },
        { fn: 'serve', url: 'file:///work/main/dist/probe/serve.cjs', self: 70 },
        { fn: 'probe', url: 'file:///app/dist/probe.cjs', self: 10 },
      ]),
    );
    const s = summarizeProfile('x.heapprofile', withProbe, 10);
    expect(s.totalBytes).toBe(110);
    expect(s.sites.map((x) => x.functionName)).toEqual(['leak', 'probe']);
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

  it('names anonymous functions after the nearest named function that called them, through builtins', () => {
    const t = readProfile(profile([{ fn: '', url: 'file:///app/c.js', self: 8 }]));
    expect(summarizeProfile('x', t, 5).sites[0]?.functionName).toBe('(anonymous)');
    // rememberTurn → Array.from (builtin) → (_, i) => … (anonymous) → repeat (builtin)
    const callback = readProfile(
      profile([
        {
          fn: 'rememberTurn',
          url: 'file:///app/c.js',
          children: [{ fn: 'from', children: [{ fn: '', url: 'file:///app/c.js', line: 7, col: 56, children: [{ fn: 'repeat', self: 8 }] }] }],
        },
      ]),
    );
    expect(summarizeProfile('x', callback, 5).sites).toEqual([
      { functionName: '(anonymous in rememberTurn)', url: 'file:///app/c.js', line: 8, column: 57, bytes: 8, share: 1, via: ['repeat'] },
    ]);
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

describe('allocations inside builtins', () => {
  const repeat = { fn: 'repeat' };
  const push = { fn: 'push' };

  it('charges them to the nearest caller with a url, through any number of builtins, keeping the builtins as via', () => {
    const t = readProfile(
      profile([
        {
          ...leak,
          self: 10,
          children: [
            { ...repeat, self: 60 },
            { fn: 'from', children: [{ ...push, self: 30 }] },
          ],
        },
        { ...tidy, children: [{ ...repeat, self: 5 }] },
      ]),
    );
    const s = summarizeProfile('x', t, 10);
    expect(s.sites).toEqual([
      { functionName: 'leak', url: 'file:///app/a.js', line: 10, column: 5, bytes: 100, share: 100 / 105, via: ['repeat', 'push'] },
      { functionName: 'tidy', url: 'file:///app/a.js', line: 20, column: 1, bytes: 5, share: 5 / 105, via: ['repeat'] },
    ]);
    expect(s.functions.map((f) => [f.functionName, f.bytes])).toEqual([
      ['leak', 100],
      ['tidy', 5],
    ]);
    expect(s.files).toEqual([{ url: 'file:///app/a.js', bytes: 105, share: 1 }]);
  });

  it('leaves a builtin with no caller that has a url as its own site', () => {
    const t = readProfile(profile([{ fn: '(V8 API)', self: 40 }, { fn: 'setup', children: [{ ...push, self: 8 }] }]));
    expect(summarizeProfile('x', t, 10).sites.map((x) => [x.functionName, x.url, x.bytes, x.via])).toEqual([
      ['(V8 API)', '', 40, undefined],
      ['push', '', 8, undefined],
    ]);
  });

  it('ranks the caller in a diff, with its builtins', () => {
    const before = readProfile(profile([{ ...leak, children: [{ ...repeat, self: 100 }] }, { ...other, self: 50 }]));
    const after = readProfile(profile([{ ...leak, self: 20, children: [{ ...repeat, self: 700 }] }, { ...other, self: 60 }]));
    const d = diffProfiles(['a', 'b'], before, after, 10);
    expect(d.grew.map((g) => [g.functionName, g.delta, g.via])).toEqual([
      ['leak', 620, ['repeat']],
      ['other', 10, undefined],
    ]);
  });
});

describe('an empty profile', () => {
  const empty = readProfile({ head: node({ fn: '(root)' }), samples: [] });

  it('says why there is nothing to rank', () => {
    const s = summarizeProfile('idle.heapprofile', empty, 10);
    expect(s).toMatchObject({ totalBytes: 0, sampleCount: 0, sites: [], note: expect.stringMatching(/^no live sampled allocations: .*outside the heap .*capture --snapshot.*--seconds\)$/) });
    expect(summarizeProfile('x', readProfile(profile([{ ...leak, self: 1 }])), 10).note).toBeUndefined();
  });

  it('says so in a diff whose second profile is empty', () => {
    const busy = readProfile(profile([{ ...leak, self: 100 }]));
    expect(diffProfiles(['a', 'b'], busy, empty, 10).note).toMatch(/^second profile: no live sampled allocations/);
    expect(diffProfiles(['a', 'b'], empty, busy, 10).note).toBeUndefined();
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
