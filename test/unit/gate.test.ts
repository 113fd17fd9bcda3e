import { describe, expect, it } from 'vitest';
import { Gate } from '../../src/supervisor/act/gate.js';

describe('Gate: cooldowns per process, caps per run', () => {
  const limits = { cooldownMs: 300_000, maxCapturesPerRun: 2 };

  it('holds back a repeat within the cooldown, lets a manual one through, and frees it afterwards', () => {
    const g = new Gate();
    expect(g.check('capture', 1, 0, false, limits)).toBeUndefined();
    g.started('capture', 1, 0);
    expect(g.check('capture', 1, 1000, false, limits)).toMatch(/capture of pid 1 is cooling down for 299 s/);
    expect(g.check('capture', 1, 1000, true, limits)).toBeUndefined();
    expect(g.check('capture', 2, 1000, false, limits)).toBeUndefined();
    expect(g.check('gc', 1, 1000, false, limits)).toBeUndefined();
    expect(g.check('capture', 1, 300_000, false, limits)).toBeUndefined();
  });

  it('reads the cooldown at each check, so a run-time change applies at once', () => {
    const g = new Gate();
    g.started('gc', 1, 0);
    expect(g.check('gc', 1, 10_000, false, limits)).toMatch(/cooling down/);
    expect(g.check('gc', 1, 10_000, false, { ...limits, cooldownMs: 5000 })).toBeUndefined();
  });

  it('caps written captures per run, manual ones included; a failed capture does not count', () => {
    const g = new Gate();
    g.started('capture', 1, 0);
    g.settled(true);
    g.started('capture', 2, 0);
    g.settled(false);
    expect(g.check('capture', 3, 0, true, limits)).toBeUndefined();
    g.started('capture', 3, 0);
    g.settled(true);
    expect(g.check('capture', 3, 0, true, limits)).toMatch(/capture cap \(--max-captures 2\) is reached/);
    expect(g.check('cleanup', 'tree', 0, false, limits)).toBeUndefined();
    expect(new Gate().check('capture', 1, 1, false, limits)).toBeUndefined();
  });

  // Captures run for seconds side by side: a slot is taken at admission, not when the file is written.
  it.each([
    { cap: 2, admitted: 6, written: 0, failed: 0, free: 0 },
    { cap: 2, admitted: 1, written: 0, failed: 0, free: 1 },
    { cap: 2, admitted: 2, written: 1, failed: 1, free: 1 },
    { cap: 3, admitted: 3, written: 0, failed: 3, free: 3 },
    { cap: 3, admitted: 3, written: 3, failed: 0, free: 0 },
  ])('cap $cap, $admitted asked at once, then $written written and $failed failed: $free free', ({ cap, admitted, written, failed, free }) => {
    const g = new Gate();
    const l = { ...limits, maxCapturesPerRun: cap };
    let started = 0;
    for (let pid = 1; pid <= admitted; pid++) {
      if (g.check('capture', pid, 0, true, l) !== undefined) continue;
      g.started('capture', pid, 0);
      started++;
    }
    expect(started).toBe(Math.min(cap, admitted));
    for (let i = 0; i < written; i++) g.settled(true);
    for (let i = 0; i < failed; i++) g.settled(false);
    let more = 0;
    for (let pid = 100; pid < 100 + cap; pid++) {
      if (g.check('capture', pid, 0, true, l) !== undefined) break;
      g.started('capture', pid, 0);
      more++;
    }
    expect(more).toBe(free);
  });

  it('forgets processes that are gone', () => {
    const g = new Gate();
    g.started('gc', 1, 0);
    g.started('cleanup', 'tree', 0);
    g.retain(new Set(['2']));
    expect(g.check('gc', 1, 1, false, limits)).toBeUndefined();
    expect(g.check('cleanup', 'tree', 1, false, limits)).toMatch(/cleanup of the tree is cooling down/);
  });

  it("keeps a worker thread's cooldown apart from its process's, and only while the worker lives", () => {
    const g = new Gate();
    g.started('capture', '2/3', 0);
    expect(g.check('capture', 2, 1, false, limits)).toBeUndefined();
    g.retain(new Set(['2', '2/3']));
    expect(g.check('capture', '2/3', 1, false, limits)).toMatch(/capture of pid 2\/3 is cooling down/);
    g.retain(new Set(['2']));
    expect(g.check('capture', '2/3', 1, false, limits)).toBeUndefined();
  });
});
