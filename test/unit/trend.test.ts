import { describe, expect, it } from 'vitest';
import { floorTrend, heapTrend, type Point } from '../../src/supervisor/watch/trend.js';
import { TREND_MIN_CONFIDENCE, trendCaptureSeconds } from '../../src/supervisor/watch/policy.js';
import { PairRing, Ring } from '../../src/supervisor/watch/ring.js';

const MB = 1048576;
/** One reading a second for `seconds`, from a generator of MB values. */
const series = (seconds: number, mb: (s: number) => number): Point[] =>
  Array.from({ length: seconds + 1 }, (_, s) => ({ t: s * 1000, v: mb(s) * MB }));
const sawtooth = (floor: number, amplitude: number, period: number) => (s: number) => floor + (amplitude * (s % period)) / period;

describe('heapTrend', () => {
  const limit = 1024 * MB;
  const opts = { windowMs: 60_000 };
  it('measures a steady leak and forecasts the OOM', () => {
    const t = heapTrend(series(60, (s) => 100 + s / 6), limit, opts)!; // 10 MB/min
    expect(t.mbPerMin).toBeCloseTo(10, 1);
    expect(t.confidence).toBeGreaterThan(0.99);
    expect(t.oomInMin).toBeCloseTo((1024 - 110) / 10, 0);
  });
  it('sees a leak under a sawtooth by following the floor', () => {
    const t = heapTrend(series(60, (s) => sawtooth(100 + s / 6, 80, 7)(s)), limit, opts)!;
    expect(t.mbPerMin).toBeGreaterThan(7);
    expect(t.mbPerMin).toBeLessThan(13);
  });
  it('finds no growth in a sawtooth that returns to its floor', () => {
    const t = heapTrend(series(60, sawtooth(200, 150, 7)), limit, opts)!;
    expect(Math.abs(t.mbPerMin)).toBeLessThan(1);
    expect(t.oomInMin === undefined || t.oomInMin > 500).toBe(true);
  });
  it('claims nothing from too few points', () => {
    expect(heapTrend(series(4, (s) => 100 + s), limit, opts)).toBeUndefined();
    expect(heapTrend([], limit, opts)).toBeUndefined();
  });
  it('lowers confidence while the window is not yet covered', () => {
    const t = heapTrend(series(15, (s) => 100 + s), limit, opts)!;
    expect(t.confidence).toBeLessThan(0.3);
  });
  it('reports no OOM for a shrinking heap', () => {
    expect(heapTrend(series(60, (s) => 500 - s), limit, opts)!.oomInMin).toBeUndefined();
  });
});

describe('floorTrend', () => {
  // One post-GC floor a second, rising 1 MB each: a leak, or the first tooth of a 10 s sawtooth.
  const rising = (seconds: number) => series(seconds, (s) => 100 + s);
  it.each([
    ['8 s of floors, OOM in ~15 min: maybe a tooth, not trusted', rising(8), 1024 * MB, false],
    ['30 s of floors, OOM in ~15 min: trusted', rising(30), 1024 * MB, true],
    ['8 s of floors, OOM in ~8 s: no time to look longer, trusted', rising(8), 116 * MB, true],
    ['8 s of floors in an 8 s trend window, OOM in ~15 min: the window is all there is, trusted', rising(8), 1024 * MB, true, 8000],
  ])('%s', (_, floors, limit, trusted, windowMs = 300_000) => {
    const t = floorTrend(floors, limit, windowMs)!;
    expect(t.mbPerMin).toBeCloseTo(60, 0);
    expect(t.confidence >= TREND_MIN_CONFIDENCE).toBe(trusted);
  });
  it('halves its confidence on a plateau', () => {
    const t = floorTrend(series(40, (s) => 100 + Math.min(s, 20)), 1024 * MB, 300_000)!;
    expect(t.confidence).toBeLessThan(TREND_MIN_CONFIDENCE);
  });
});

describe('trendCaptureSeconds', () => {
  it.each([
    [undefined, 30],
    [60, 30],
    [1, 15],
    [0.1, 5],
    [0, 5],
  ])('OOM in %s min: samples %i s', (oomInMin, seconds) => {
    expect(trendCaptureSeconds(oomInMin)).toBe(seconds);
  });
});

describe('Ring', () => {
  it('keeps the last N items, oldest first', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.last()).toBe(5);
    expect(r.size).toBe(3);
  });
  it('refuses a zero capacity', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('PairRing', () => {
  it('keeps the last N pairs, oldest first, across its growth and wrap-around', () => {
    const r = new PairRing(60);
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => [1.7e12 + i * 1000, i * 4096]);
    for (let i = 0; i < 150; i++) {
      r.push(1.7e12 + i * 1000, i * 4096);
      const n = Math.min(i + 1, 60);
      expect(r.size).toBe(n);
      expect(r.map((t, v) => [t, v])).toEqual(pairs(i + 1).slice(-n));
    }
  });
  it('keeps one pair in a ring of one', () => {
    const r = new PairRing(1);
    expect(r.map((t, v) => [t, v])).toEqual([]);
    r.push(1, 2);
    r.push(3, 4);
    expect(r.map((t, v) => [t, v])).toEqual([[3, 4]]);
  });
  it('refuses a zero capacity', () => {
    expect(() => new PairRing(0)).toThrow(RangeError);
  });
});
