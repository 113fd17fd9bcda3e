import { describe, expect, it } from 'vitest';
import { MIN_READ_DELAY_MS, nextReadDelay } from '../../src/supervisor/watch/read-cadence.js';

const MB = 1048576;
const at = (t: number, mb: number) => ({ t, v: mb * MB });

describe('nextReadDelay: how soon a heap over the pressure fraction is read again', () => {
  const cases: { name: string; prev?: { t: number; v: number }; last: { t: number; v: number }; limitMb: number; intervalMs: number; want: number | undefined }[] = [
    { name: 'no earlier reading: the tick', last: at(1000, 200), limitMb: 256, intervalMs: 1000, want: undefined },
    { name: 'holding still: the tick', prev: at(0, 200), last: at(1000, 200), limitMb: 256, intervalMs: 1000, want: undefined },
    { name: 'falling (a collection): the tick', prev: at(0, 210), last: at(1000, 180), limitMb: 256, intervalMs: 1000, want: undefined },
    { name: 'slow growth, 2% of the limit takes longer than a tick: the tick', prev: at(0, 200), last: at(1000, 204), limitMb: 256, intervalMs: 1000, want: undefined },
    // 20 MB/s on 256 MB: 2% (5.12 MB) in 256 ms.
    { name: 'a fast leak: before it grows by 2% of its limit', prev: at(0, 180), last: at(1000, 200), limitMb: 256, intervalMs: 1000, want: 256 },
    { name: 'faster than the floor allows: the floor', prev: at(0, 100), last: at(100, 200), limitMb: 256, intervalMs: 1000, want: MIN_READ_DELAY_MS },
    { name: 'a longer interval asks for it sooner than the tick', prev: at(0, 3000), last: at(10_000, 3100), limitMb: 4096, intervalMs: 30_000, want: 8192 },
    { name: 'readings out of order: the tick', prev: at(1000, 180), last: at(1000, 200), limitMb: 256, intervalMs: 1000, want: undefined },
  ];
  it.each(cases)('$name', ({ prev, last, limitMb, intervalMs, want }) => {
    expect(nextReadDelay(prev, last, limitMb * MB, intervalMs)).toBe(want);
  });
});
