import { describe, expect, it } from 'vitest';
import { StormGuard } from '../../src/probe/gc-storm.cjs';

/** `n` majors `everyMs` apart from `from`. */
const majors = (from: number, n: number, everyMs: number) => Array.from({ length: n }, (_, i) => from + i * everyMs);

describe('StormGuard: when the probe stops observing GCs', () => {
  const cases: { name: string; at: number[]; want: number[] }[] = [
    { name: 'a major every few seconds: never', at: majors(0, 20, 3000), want: [] },
    { name: 'seven in two seconds: not yet', at: majors(0, 7, 250), want: [] },
    { name: 'eight in two seconds: a first pause of 5 s', at: majors(0, 8, 250), want: [5000] },
    { name: 'eight spread over more than two seconds: never', at: majors(0, 16, 300), want: [] },
    { name: 'a storm right after the pause: twice as long', at: [...majors(0, 8, 50), ...majors(5400, 8, 50)], want: [5000, 10_000] },
    { name: 'storms one after another: doubled up to a minute', at: [0, 5400, 15_800, 36_200, 77_000, 138_000].flatMap((t) => majors(t, 8, 10)), want: [5000, 10_000, 20_000, 40_000, 60_000, 60_000] },
    { name: 'a calm as long as the pause: the first pause again', at: [...majors(0, 8, 50), ...majors(5350 + 5000, 8, 50)], want: [5000, 5000] },
  ];
  it.each(cases)('$name', ({ at, want }) => {
    const guard = new StormGuard();
    expect(at.map((t) => guard.seen(t)).filter((p) => p > 0)).toEqual(want);
  });
});
