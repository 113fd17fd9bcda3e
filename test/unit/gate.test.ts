import { describe, expect, it } from 'vitest';
import { Gate } from '../../src/supervisor/act/executor.js';

describe('Gate: cooldowns per process, caps per run', () => {
  const gate = () => new Gate({ cooldownMs: 300_000, maxCapturesPerRun: 2 });

  it('holds back a repeat within the cooldown, lets a manual one through, and frees it afterwards', () => {
    const g = gate();
    expect(g.check('capture', 1, 0, false)).toBeUndefined();
    g.record('capture', 1, 0);
    expect(g.check('capture', 1, 1000, false)).toMatch(/capture of pid 1 is cooling down for 299 s/);
    expect(g.check('capture', 1, 1000, true)).toBeUndefined();
    expect(g.check('capture', 2, 1000, false)).toBeUndefined();
    expect(g.check('gc', 1, 1000, false)).toBeUndefined();
    expect(g.check('capture', 1, 300_000, false)).toBeUndefined();
  });

  it('caps captures per run, manual ones included, until the next run', () => {
    const g = gate();
    g.record('capture', 1, 0);
    g.record('capture', 2, 0);
    expect(g.check('capture', 3, 0, true)).toMatch(/capture cap \(--max-captures 2\) is reached/);
    expect(g.check('cleanup', 'tree', 0, false)).toBeUndefined();
    g.newRun();
    expect(g.check('capture', 1, 1, false)).toBeUndefined();
  });

  it('forgets processes that are gone', () => {
    const g = gate();
    g.record('gc', 1, 0);
    g.record('cleanup', 'tree', 0);
    g.retain(new Set([2]));
    expect(g.check('gc', 1, 1, false)).toBeUndefined();
    expect(g.check('cleanup', 'tree', 1, false)).toMatch(/cleanup of the tree is cooling down/);
  });
});
