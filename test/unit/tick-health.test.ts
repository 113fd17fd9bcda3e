import { describe, expect, it } from 'vitest';
import { NO_FAILURES, afterTick, watchFailing } from '../../src/supervisor/lifecycle/tick-health.js';

/** Outcomes of ticks in order: an error message for a failed one, undefined for one that went through. */
const replay = (ticks: (string | undefined)[]) => ticks.reduce(afterTick, NO_FAILURES);

describe('the watch loop is failing after a few failed ticks in a row', () => {
  it.each([
    { what: 'no tick yet', ticks: [], failing: undefined },
    { what: 'every tick went through', ticks: [undefined, undefined], failing: undefined },
    { what: 'one failure', ticks: ['EIO'], failing: undefined },
    { what: 'two failures in a row', ticks: [undefined, 'EIO', 'EIO'], failing: undefined },
    { what: 'three in a row', ticks: ['EIO', 'EIO', 'EIO'], failing: 'the last 3 ticks failed, no memory rule acts (last error: EIO)' },
    { what: 'five in a row, the last error named', ticks: ['a', 'b', 'c', 'd', 'e'], failing: 'the last 5 ticks failed, no memory rule acts (last error: e)' },
    { what: 'failures broken by a good tick', ticks: ['EIO', 'EIO', undefined, 'EIO', 'EIO'], failing: undefined },
    { what: 'recovered after failing', ticks: ['EIO', 'EIO', 'EIO', 'EIO', undefined], failing: undefined },
  ])('$what', ({ ticks, failing }) => {
    expect(watchFailing(replay(ticks))).toBe(failing);
  });
});
