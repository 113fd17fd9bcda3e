import { describe, expect, it } from 'vitest';
import { snapshotLimits } from '../../src/supervisor/probe-link/snapshot-time.js';

const MB = 1024 * 1024;
const configured = { idleMs: 60_000, totalMs: 600_000 };

describe('snapshotLimits', () => {
  const table: [string, number, { idleMs: number; totalMs: number }][] = [
    ['a small heap: as configured', 20 * MB, configured],
    ['no figure: as configured', Number.NaN, configured],
    ['a 250 MB heap may build for two minutes on a busy machine', 250 * MB, { idleMs: 125_000, totalMs: 600_000 }],
    ['an 8 GB heap: both raised', 8192 * MB, { idleMs: 4_096_000, totalMs: 16_384_000 }],
  ];
  it.each(table)('%s', (_, used, limits) => {
    expect(snapshotLimits(used, configured)).toEqual(limits);
  });
});
