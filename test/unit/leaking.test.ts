import { describe, expect, it } from 'vitest';
import { leaking, type TrendRule } from '../../src/supervisor/watch/policy.js';
import type { Trend } from '../../src/supervisor/watch/trend.js';

// The one leak test the policy's trend alert and `monitor`'s verdict and --capture-on-growth share.
const rule: TrendRule = { trendWindowMs: 300_000, trendMinMbPerMin: 2, trendHorizonMin: 240 };
const trend = (mbPerMin: number, confidence: number, oomInMin?: number): Trend => ({ mbPerMin, confidence, oomInMin, floorMb: 100 });

describe('leaking', () => {
  it.each([
    ['fast, trusted, OOM within the horizon', trend(10, 0.95, 60), false, true],
    ['at the minimum rate and the horizon exactly', trend(2, 0.8, 240), false, true],
    ['below the minimum rate', trend(1.9, 0.95, 60), false, false],
    ['a fit not trusted', trend(10, 0.79, 60), false, false],
    ['OOM beyond the horizon', trend(10, 0.95, 241), false, false],
    ['no OOM forecast (not growing)', trend(10, 0.95), false, false],
    ['shrinking', trend(-3, 0.95), false, false],
    ['raised: holds down to half the rate', trend(1, 0.95, 60), true, true],
    ['raised: clears below half the rate', trend(0.9, 0.95, 60), true, false],
    ['raised: clears when the fit is lost', trend(5, 0.5, 60), true, false],
    ['raised: clears when the OOM leaves the horizon', trend(5, 0.95, 300), true, false],
  ])('%s', (_, t, raised, expected) => {
    expect(leaking(t, rule, raised)).toBe(expected);
  });
});
