import { describe, expect, it } from 'vitest';
import { agentView, liveTick } from '../../src/supervisor/control/views.js';
import type { Tick } from '../../src/supervisor/watch/sampler.js';

const run = { id: 'r-1', pid: 42, startedAt: 0 };

describe('the agent as status shows it', () => {
  it.each([
    ['running', run, undefined, { phase: 'running', restarts: 1, run_id: 'r-1', pid: 42, started_at: '1970-01-01T00:00:00.000Z' }],
    ['backoff', run, 10_500, { phase: 'backoff', restarts: 1, restart_in_s: 9 }],
    ['backoff', run, 500, { phase: 'backoff', restarts: 1, restart_in_s: 0 }],
    ['backoff', undefined, undefined, { phase: 'backoff', restarts: 1 }],
    ['starting', run, undefined, { phase: 'starting', restarts: 1 }],
    ['stopping', run, undefined, { phase: 'stopping', restarts: 1 }],
    ['preflight', undefined, undefined, { phase: 'preflight', restarts: 1 }],
  ] as const)('%s', (phase, r, restartAt, view) => {
    expect(agentView(phase, 1, r, restartAt, 1_500)).toEqual(view);
  });

  it('shows a tick only while the agent runs', () => {
    const tick = { at: 1, processes: [] } as unknown as Tick;
    expect(liveTick('running', tick)).toBe(tick);
    for (const phase of ['backoff', 'starting', 'stopping', 'exited']) expect(liveTick(phase, tick)).toBeUndefined();
  });
});
