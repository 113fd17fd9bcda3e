// The report's statistics: nearest-rank percentiles, least-squares fits, growth across runs, --since.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { LEAK_RULE, acrossRuns } from '../../src/report/growth.js';
import { parseSince } from '../../src/report/since.js';
import { linearFit } from '../../src/common/fit.js';
import { Histogram, percentiles } from '../../src/report/stats.js';

const histogram = (values: number[]): Histogram => {
  const h = new Histogram();
  for (const v of values) h.add(v);
  return h;
};

describe('percentiles', () => {
  it('are nearest-rank over 1..100', () => {
    const h = histogram(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(percentiles(h)).toEqual({ n: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it('are always an observed value, the max for small samples', () => {
    expect(percentiles(histogram([10, 20, 30, 40, 50]))).toEqual({ n: 5, p50: 30, p95: 50, p99: 50, max: 50 });
    expect(percentiles(histogram([7]))).toEqual({ n: 1, p50: 7, p95: 7, p99: 7, max: 7 });
  });

  it('count repeated values and keep one decimal', () => {
    expect(percentiles(histogram([1.25, 1.25, 1.25, 300.04]))).toEqual({ n: 4, p50: 1.3, p95: 300, p99: 300, max: 300 });
  });

  it('are null without observations', () => {
    expect(percentiles(new Histogram())).toBeNull();
  });

  it('hold a million observations in memory bounded by the distinct values', () => {
    const h = new Histogram();
    for (let i = 0; i < 1_000_000; i++) h.add(100 + (i % 500) / 10);
    expect(percentiles(h)).toEqual({ n: 1_000_000, p50: 124.9, p95: 147.4, p99: 149.4, max: 149.9 });
  });
});

describe('linearFit', () => {
  it('finds an exact line', () => {
    expect(linearFit([0, 1, 2, 3], [5, 7, 9, 11])).toEqual({ slope: 2, intercept: 5, r2: 1 });
  });

  it('gives a flat series slope 0 and r² 1, and noise a low r²', () => {
    expect(linearFit([0, 1, 2], [4, 4, 4])).toMatchObject({ slope: 0, r2: 1 });
    expect(linearFit([0, 1, 2, 3, 4, 5], [10, 12, 9, 11, 10, 12]).r2).toBeLessThan(0.3);
  });
});

describe('growth across runs', () => {
  const runs = (peaks: number[]) => peaks.map((mb, i) => ({ t: 1_000_000 + i * 60_000, mb }));

  it('flags a peak that rises over 5 runs', () => {
    const g = acrossRuns('heap', runs([100, 121, 139, 162, 180]))!;
    expect(g).toMatchObject({ metric: 'heap', runs: 5, firstMb: 100, lastMb: 180, leak: true });
    expect(g.slopeMbPerRun).toBeCloseTo(20, 0);
    expect(g.r2).toBeGreaterThan(0.99);
    expect(g.verdict).toMatch(/^leak across runs: peak heap \+20\.\d MB per run over 5 runs \(r² 1\), 100 → 180 MB$/);
  });

  it('orders runs by time, not by arrival', () => {
    const shuffled = [...runs([100, 121, 139, 162, 180])].reverse();
    expect(acrossRuns('rss', shuffled)).toMatchObject({ firstMb: 100, lastMb: 180, leak: true });
  });

  it('does not flag a peak that rose and then levelled off', () => {
    const g = acrossRuns('rss', runs([100, 160, 190, 200, 201, 200, 201]))!;
    expect(g.slopeMbPerRun).toBeGreaterThan(0);
    expect(g.r2).toBeGreaterThanOrEqual(LEAK_RULE.MIN_R2);
    expect(g.leak).toBe(false);
    expect(g.verdict).toMatch(/then levelled off/);
  });

  it('does not flag a plateau over 5 runs', () => {
    expect(acrossRuns('rss', runs([150, 190, 200, 199, 200]))!.leak).toBe(false);
  });

  it('does not flag noise around a flat peak', () => {
    const g = acrossRuns('rss', runs([200, 204, 198, 203, 199, 205, 201, 200]))!;
    expect(g.leak).toBe(false);
    expect(g.verdict).toMatch(/^no growth across runs/);
  });

  it('does not flag a rise too small to matter', () => {
    expect(acrossRuns('rss', runs([200, 201, 202, 203, 204]))!.leak).toBe(false);
  });

  it('does not judge fewer than 5 runs, and has no slope for one', () => {
    const g = acrossRuns('rss', runs([100, 150, 200, 250]))!;
    expect(g.leak).toBe(false);
    expect(g.verdict).toMatch(/too few runs to judge \(4 < 5\)/);
    expect(acrossRuns('rss', runs([100]))).toBeUndefined();
  });
});

describe('--since', () => {
  const now = Date.parse('2026-11-30T12:00:00.000Z');

  it.each([
    ['7d', '2026-11-23T12:00:00.000Z'],
    ['24h', '2026-11-29T12:00:00.000Z'],
    ['30m', '2026-11-30T11:30:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-29T08:15', '2026-11-29T08:15:00.000Z'],
    ['2026-11-29T08:15:00+02:00', '2026-11-29T06:15:00.000Z'],
  ])('%s starts at %s', (raw, start) => {
    expect(new Date(parseSince(raw, now)).toISOString()).toBe(start);
  });

  it.each(['7', '7x', 'yesterday', '2026-13-45', '', '-3d'])('rejects %j with a usage error', (raw) => {
    expect(() => parseSince(raw, now)).toThrow(UsageError);
    expect(() => parseSince(raw, now)).toThrow(/^--since expects an age like 7d, 24h or 30m, or a date like 2026-11-01, got /);
  });

  it('rejects a date in the future', () => {
    expect(() => parseSince('2026-12-25', now)).toThrow(/--since 2026-12-25 is in the future/);
  });
});
