// Off-heap memory and leaking handles, as pure rules: the growth of RSS − heap total, the handle types that grew,
// when connections are counted, what /proc/<pid>/status says RSS is made of (the policy's use of them: policy.test.ts).
import { describe, expect, it } from 'vitest';
import { offHeapGrowth } from '../../src/supervisor/watch/offheap.js';
import { handleGrowth, handlesText } from '../../src/supervisor/watch/handles.js';
import { connectionsDue } from '../../src/supervisor/watch/sampler.js';
import { parseRssKinds } from '../../src/platform/linux/rss-kinds.js';
import type { Point } from '../../src/supervisor/watch/trend.js';

const MB = 1048576;
/** One point a second for `seconds`, off-heap MB given by `mb(second)`. */
const series = (seconds: number, mb: (s: number) => number): Point[] => Array.from({ length: seconds + 1 }, (_, s) => ({ t: s * 1000, v: mb(s) * MB }));

describe('offHeapGrowth', () => {
  const table: [string, Point[], { growing: boolean; mbPerMin?: number } | undefined][] = [
    ['nothing before the span says something', series(5, (s) => 50 + s * 10), undefined],
    ['a Buffer leak of 1 MB/s for 40 s', series(40, (s) => 50 + s), { growing: true, mbPerMin: 60 }],
    ['flat off-heap memory', series(30, () => 50), { growing: false, mbPerMin: 0 }],
    ['steady but small: 0.5 MB/s over 20 s is 10 MB', series(20, (s) => 50 + s / 2), { growing: false, mbPerMin: 30 }],
    ['a pool filling and draining', series(40, (s) => 50 + (s % 10 < 5 ? 40 : 0)), { growing: false }],
    ['only the window counts: flat for 60 s after growing', [...series(60, (s) => s * 5), ...series(60, () => 300).map((p) => ({ t: p.t + 61_000, v: p.v }))], { growing: false, mbPerMin: 0 }],
  ];
  it.each(table)('%s', (_name, points, expected) => {
    const g = offHeapGrowth(points);
    if (expected === undefined) expect(g).toBeUndefined();
    else expect(g).toMatchObject(expected);
  });
});

describe('handles', () => {
  it('tells which types grew, and shows them first', () => {
    const before = { at: 0, counts: { TCPSocketWrap: 2, Timeout: 3, FSReqCallback: 1 } };
    const after = { at: 12_000, counts: { TCPSocketWrap: 57, Timeout: 3 } };
    const grew = handleGrowth(before, after);
    expect(grew).toEqual({ seconds: 12, by: { TCPSocketWrap: 55 } });
    expect(handlesText(after.counts, grew)).toBe('TCPSocketWrap 57 (+55 in 12 s), Timeout 3');
    expect(handleGrowth(after, after)).toBeUndefined();
    expect(handlesText(undefined)).toBe('');
  });
});

describe('connectionsDue', () => {
  const table: [number, boolean, boolean][] = [
    [1, false, false],
    [29, false, false],
    [30, false, true],
    [1, true, false],
    [2, true, true],
    [Infinity, false, true],
  ];
  it.each(table)('%s ticks after the last count, descriptors moved: %s → %s', (ticks, moved, due) => {
    expect(connectionsDue(ticks, moved)).toBe(due);
  });

  it('counts often enough that 10 connections a second pass info, warning and critical in order', () => {
    // Connections and descriptors both rise by 10 a second from second 3; one tick a second.
    const levels: number[] = [];
    let age = Infinity;
    let countedFds: number | undefined;
    for (let s = 0; s <= 15; s++) {
      const conns = Math.max(0, (s - 3) * 10);
      const fds = 20 + conns;
      countedFds ??= fds;
      age++;
      if (connectionsDue(age, Math.abs(fds - countedFds) >= 2)) {
        age = 0;
        countedFds = fds;
        levels.push(conns);
      }
    }
    const level = (n: number) => (n >= 100 ? 'critical' : n >= 50 ? 'warning' : n >= 25 ? 'info' : 'ok');
    expect([...new Set(levels.map(level))]).toEqual(['ok', 'info', 'warning', 'critical']);
  });
});

describe('parseRssKinds', () => {
  it('reads anonymous, file-backed and shared RSS from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmRSS:\t  300000 kB\nRssAnon:\t  250000 kB\nRssFile:\t   49000 kB\nRssShmem:\t    1000 kB\nThreads:\t7\n';
    expect(parseRssKinds(status)).toEqual({ anon: 250000 * 1024, file: 49000 * 1024, shmem: 1000 * 1024 });
    expect(parseRssKinds('Name:\tkthreadd\n')).toBeUndefined();
  });
});
