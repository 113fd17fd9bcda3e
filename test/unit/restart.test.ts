import { describe, expect, it } from 'vitest';
import { backoffDelay, decideRestart, initialRestartState, wantsRestart, type EndedRun, type RestartPolicy } from '../../src/supervisor/lifecycle/restart.js';
import type { ExitReason } from '../../src/supervisor/journal/run-line.js';
import type { RestartMode } from '../../src/config/config.js';

const policy: RestartPolicy = { restart: 'on-failure', backoffMs: 1000, backoffMaxMs: 8000, minUptimeMs: 30_000, maxRestarts: 3, restartWindowMs: 60_000 };
const run = (reason: ExitReason, uptimeMs = 100, signal: NodeJS.Signals | null = null, code: number | null = null): EndedRun => ({ reason, signal, code, uptimeMs });
/** A command that has run stably once: its failures are worth another run. */
const proven = { ...initialRestartState, everStable: true };

describe('wantsRestart', () => {
  const table: [RestartMode, ExitReason, NodeJS.Signals | null, boolean][] = [
    ['on-oom', 'oom', null, true],
    ['on-oom', 'limit', null, true],
    ['on-oom', 'oom-kill', 'SIGKILL', true],
    ['on-oom', 'crash', null, false],
    ['on-oom', 'killed', 'SIGKILL', false],
    ['on-oom', 'clean', null, false],
    ['on-failure', 'clean', null, false],
    ['on-failure', 'crash', null, true],
    ['on-failure', 'oom', null, true],
    ['on-failure', 'limit', null, true],
    ['on-failure', 'killed', 'SIGKILL', true],
    ['on-failure', 'killed', 'SIGSEGV', true],
    ['on-failure', 'killed', 'SIGTERM', false],
    ['on-failure', 'killed', 'SIGINT', false],
    ['on-failure', 'killed', 'SIGHUP', false],
    ['on-failure', 'stopped', 'SIGTERM', false],
    ['always', 'clean', null, true],
    ['always', 'killed', 'SIGTERM', false],
    ['always', 'stopped', null, false],
    ['never', 'oom', null, false],
    ['never', 'crash', null, false],
  ];
  it.each(table)('%s after %s (%s) → %s', (mode, reason, signal, expected) => {
    expect(wantsRestart(mode, run(reason, 100, signal))).toBe(expected);
  });

  it.each([129, 130, 131, 143])('treats exit code %i (a handled stop signal) as a stop request', (code) => {
    expect(wantsRestart('on-failure', run('crash', 100, null, code))).toBe(false);
    expect(wantsRestart('always', run('crash', 100, null, code))).toBe(false);
    expect(wantsRestart('on-failure', run('crash', 100, null, 1))).toBe(true);
  });
});

describe('backoffDelay', () => {
  const table: [number, number, number][] = [
    [0, 0, 500],
    [0, 1, 1000],
    [1, 0, 1000],
    [2, 1, 4000],
    [3, 1, 8000],
    [4, 1, 8000],
    [60, 0.5, 6000],
  ];
  it.each(table)('attempt %i, random %f → %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, policy, random)).toBe(expected);
  });
});

describe('decideRestart', () => {
  it('doubles the delay on quick failures and resets it after a stable run', () => {
    let state = proven;
    const delays: number[] = [];
    let now = 0;
    for (const uptime of [100, 100, 100, 40_000, 100]) {
      now += 100_000; // outside the crash-loop window each time
      const d = decideRestart(state, run('crash', uptime), policy, now, 1);
      if (d.action !== 'restart') throw new Error(d.action);
      delays.push(d.delayMs);
      state = d.state;
    }
    expect(delays).toEqual([1000, 2000, 4000, 1000, 2000]);
  });

  it('gives up when the restarts within the window reach --max-restarts', () => {
    let state = proven;
    const actions: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = decideRestart(state, run('crash'), policy, i * 1000, 0);
      actions.push(d.action);
      state = d.state;
    }
    expect(actions).toEqual(['restart', 'restart', 'restart', 'give-up', 'give-up']);
  });

  it('forgets restarts that fell out of the window', () => {
    let state = proven;
    for (let i = 0; i < 3; i++) state = decideRestart(state, run('crash'), policy, i * 1000, 0).state;
    // At 60.5 s the restart at 0 s has left the 60 s window; 1 s and 2 s are still in it.
    const later = decideRestart(state, run('crash'), policy, 60_500, 0);
    expect(later.action).toBe('restart');
    expect(later.state.restarts).toEqual([1000, 2000, 60_500]);
  });

  it('gives up at once with --max-restarts 0', () => {
    const d = decideRestart(initialRestartState, run('oom'), { ...policy, maxRestarts: 0 }, 0, 0);
    expect(d).toMatchObject({ action: 'give-up', message: expect.stringMatching(/last run ended: oom/) });
  });

  it('exits without counting when no restart is wanted', () => {
    expect(decideRestart(initialRestartState, run('clean'), policy, 0, 0)).toEqual({ action: 'exit', state: initialRestartState });
  });

  it('does not run a command again whose first run failed before --min-uptime, whatever the mode', () => {
    for (const restart of ['on-failure', 'always'] as const) {
      const d = decideRestart(initialRestartState, run('crash', 2000, null, 1), { ...policy, restart }, 0, 0);
      expect(d).toMatchObject({ action: 'give-up', message: expect.stringMatching(/not restarting: the first run failed after 2\.0 s, before --min-uptime \(30 s\)/) });
    }
    expect(decideRestart(initialRestartState, run('crash', 40_000, null, 1), policy, 0, 0).action).toBe('restart');
    expect(decideRestart(initialRestartState, run('oom', 100), policy, 0, 0).action).toBe('restart');
  });
});
