// The "what to do next" lines diagnostics derives from what it found (pure: the inputs are built here).
import { describe, expect, it } from 'vitest';
import { nextSteps } from '../../src/cli/diagnostics.js';
import type { ProcessView, StatusView } from '../../src/supervisor/control/protocol.js';

type Level = ProcessView['level'];

const status = (level: Level, agent: Partial<StatusView['agent']> = {}) =>
  ({
    supervisor: { pid: 1, version: '0', started_at: '', uptime_s: 60, state_dir: '/s', interval_ms: 1000 },
    agent: { phase: 'running', pid: 10, restarts: 0, ...agent },
    tree: { processes: 1, rss_mb: 300, level },
    levels: {},
  }) as unknown as StatusView;

const proc = (level: Level, extra: Partial<ProcessView> = {}): ProcessView => ({
  pid: 10,
  ppid: 1,
  role: 'agent',
  rss_mb: 300,
  heap_used_mb: 200,
  heap_limit_mb: 256,
  level,
  history: { rss_mb: [] },
  ...extra,
});

const memory = { total_mb: 16_000, available_mb: 12_000, used_mb: 4000, percent: 25 };

describe('nextSteps', () => {
  it('says that nothing is wrong when nothing is', () => {
    expect(nextSteps({ system_memory: memory, status: status('ok'), processes: [proc('ok')], alerts: [] })).toEqual([
      'nothing wrong: every process at ok, no heap growing, 12000 MB available; `cfn-supervise report` shows the week',
    ]);
  });

  it('puts a failing watch loop first: what the rest says is stale', () => {
    const failing = status('ok');
    failing.supervisor.watch_failing = 'the last 3 ticks failed, no memory rule acts (last error: EIO)';
    const steps = nextSteps({ system_memory: memory, status: failing, processes: [proc('ok')], alerts: [] });
    expect(steps).toEqual([
      'the watch loop is failing: the last 3 ticks failed, no memory rule acts (last error: EIO); levels and trends below are stale. supervisor.log says more ("tick failed"); fix its cause or restart the supervisor',
    ]);
  });

  it('puts a process at critical first: evidence, then GC, then restart', () => {
    const steps = nextSteps({ system_memory: memory, status: status('critical', { restarts: 2 }), processes: [proc('critical')], alerts: [] });
    expect(steps[0]).toMatch(/^pid 10 \(agent\) is at critical .*`cfn-supervise capture --pid 10`, then `cfn-supervise gc --pid 10`.*`cfn-supervise restart`/);
    expect(steps.at(-1)).toMatch(/^2 restarts since the supervisor started/);
  });

  it('sends a growing heap to capture and analyze, and names the last capture\'s top site', () => {
    const steps = nextSteps({
      system_memory: memory,
      status: status('warning'),
      processes: [proc('warning', { trend: { mb_per_min: 3.2, oom_in_min: 18, confidence: 0.9 } })],
      alerts: [],
      capture: {
        summary_file: '/c/x.summary.json',
        summary: {
          kind: 'heapprofile',
          file: '/c/x',
          totalBytes: 1,
          sampleCount: 1,
          sites: [{ functionName: 'remember', url: 'file:///app/a.js', line: 7, column: 3, bytes: 1, share: 1 }],
          functions: [],
          files: [],
        },
      },
    });
    expect(steps).toEqual([
      'pid 10 (agent): heap +3.2 MB/min, OOM in ~18 min: `cfn-supervise capture --pid 10 --seconds 30` now and again in a few minutes, then `cfn-supervise analyze <first> <second>` shows what grew (`cfn-supervise analyze <file>` for one)',
      "the last capture's top allocation site is remember file:///app/a.js:7:3: look there first",
    ]);
  });

  it('points at the machine when it runs out of memory, and at the restart loop when the agent waits', () => {
    const low = { total_mb: 16_000, available_mb: 900, used_mb: 15_100, percent: 94.4 };
    const steps = nextSteps({ system_memory: low, status: status('ok', { phase: 'backoff', restarts: 3 }), processes: [], alerts: [] });
    expect(steps).toEqual([
      'the machine has only 900 MB of 16000 MB available: other programs compete with the agent; free memory or lower --heap-limit',
      'the agent ended and waits to be restarted (3 restarts so far): `cfn-supervise report --since 24h` shows how its runs ended',
    ]);
  });

  it('never advises a bigger heap when the memory that grows is outside it, and sends it to a snapshot', () => {
    const buffers = { rss_mb: 358, heap_used_mb: 3, heap_total_mb: 5, external_mb: 232 };
    const critical = nextSteps({ system_memory: memory, status: status('critical'), processes: [proc('critical', buffers)], alerts: [] });
    expect(critical[0]).toBe(
      'pid 10 (agent) is at critical (RSS 358 MB, heap 3.0 MB / 256 MB): most of its memory is outside the V8 heap, 232 MB of it Buffers and ArrayBuffers, ' +
        'so a bigger --heap-limit would not help: `cfn-supervise capture --pid 10 --snapshot`, then `cfn-supervise analyze <file>` names what holds the Buffers ' +
        '(system / JSArrayBufferData and the array or property above it)',
    );
    const alert = { ts: '', level: 'warning', metric: 'offheap', pid: 10, message: 'agent (pid 10): memory outside the V8 heap grows 589 MB/min' };
    const warning = nextSteps({ system_memory: memory, status: status('warning'), processes: [proc('warning', buffers)], alerts: [alert] });
    expect(warning[0]).toMatch(/^pid 10 \(agent\): the last offheap alert said: .*grows 589 MB\/min: most of its memory is outside the V8 heap.*--snapshot/);
    expect([...critical, ...warning].join('\n')).not.toMatch(/raise --heap-limit/);
  });
});
