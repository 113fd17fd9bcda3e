import { describe, expect, it } from 'vitest';
import { stillPromised } from '../../src/supervisor/probe-link/snapshot-headroom.js';

describe('disk still promised to snapshots being written', () => {
  it.each([
    { what: 'none in flight', promises: [], promised: 0 },
    { what: 'one just admitted', promises: [{ estimate: 55, written: 0 }], promised: 55 },
    { what: 'one half written (statfs sees the half)', promises: [{ estimate: 55, written: 20 }], promised: 35 },
    { what: 'one larger than estimated', promises: [{ estimate: 55, written: 70 }], promised: 0 },
    {
      what: 'several side by side',
      promises: [
        { estimate: 10, written: 0 },
        { estimate: 20, written: 5 },
        { estimate: 30, written: 30 },
      ],
      promised: 25,
    },
  ])('$what: $promised', ({ promises, promised }) => {
    expect(stillPromised(promises)).toBe(promised);
  });
});
