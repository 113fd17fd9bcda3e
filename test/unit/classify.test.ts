import { describe, expect, it } from 'vitest';
import { classifyExit, exitCodeOf, memberFate, type ExitReason, type MemberEnd, type MemberFate, type RunEnd } from '../../src/supervisor/lifecycle/classify.js';

const end = (over: Partial<RunEnd>): RunEnd => ({
  code: null, signal: null, stoppedBySupervisor: false, limitExceeded: false, oomReport: false, heapNearLimit: false, ...over,
});

describe('classifyExit', () => {
  const table: [string, Partial<RunEnd>, ExitReason][] = [
    ['exit 0', { code: 0 }, 'clean'],
    ['exit 1', { code: 1 }, 'crash'],
    ['SIGKILL', { signal: 'SIGKILL' }, 'killed'],
    ['SIGABRT without evidence', { signal: 'SIGABRT' }, 'killed'],
    ['SIGABRT near the heap limit', { signal: 'SIGABRT', heapNearLimit: true }, 'oom'],
    ['134 near the heap limit (behind a shell)', { code: 134, heapNearLimit: true }, 'oom'],
    ['134 without evidence', { code: 134 }, 'crash'],
    ['a heap report and exit 134', { code: 134, oomReport: true }, 'oom'],
    ['a heap report and SIGABRT', { signal: 'SIGABRT', oomReport: true }, 'oom'],
    ['a heap report of a child but exit 0', { code: 0, oomReport: true }, 'clean'],
    ['heap near the limit but a plain crash', { code: 1, heapNearLimit: true }, 'crash'],
    ['stopped by the supervisor', { signal: 'SIGTERM', stoppedBySupervisor: true }, 'stopped'],
    ['stopped, even after a report', { code: 134, oomReport: true, stoppedBySupervisor: true }, 'stopped'],
    ['memory rule', { signal: 'SIGTERM', limitExceeded: true }, 'limit'],
    ['SIGKILL after the cgroup counted an OOM kill', { signal: 'SIGKILL', oomKilled: true }, 'oom-kill'],
    ['137 behind a shell after an OOM kill', { code: 137, oomKilled: true }, 'oom-kill'],
    ['an OOM kill of a member, the agent exits 0', { code: 0, oomKilled: true }, 'clean'],
    ['an OOM kill of a member, the agent crashes on its own', { code: 1, oomKilled: true }, 'crash'],
    ['SIGKILL without an OOM kill counted', { signal: 'SIGKILL', oomKilled: false }, 'killed'],
    ['exit 1 after an unhandled worker OOM (ERR_WORKER_OUT_OF_MEMORY)', { code: 1, workerOom: true }, 'oom'],
    ['an unhandled worker OOM, but the app exits 0 from its uncaught-exception path', { code: 0, workerOom: true }, 'clean'],
    ['stopped while a worker ran out of heap', { code: 1, workerOom: true, stoppedBySupervisor: true }, 'stopped'],
    ['stopped while the kernel killed', { signal: 'SIGKILL', oomKilled: true, stoppedBySupervisor: true }, 'stopped'],
  ];
  it.each(table)('%s → %s', (_name, over, expected) => {
    expect(classifyExit(end(over))).toBe(expected);
  });
});

describe('memberFate', () => {
  const table: [string, MemberEnd, MemberFate | undefined][] = [
    ['nothing known: no memory cause', {}, undefined],
    ['a memory rule ended it', { limitSignal: 'SIGTERM' }, { cause: 'limit', signal: 'SIGTERM' }],
    ['a memory rule had to SIGKILL it', { limitSignal: 'SIGKILL' }, { cause: 'limit', signal: 'SIGKILL' }],
    ['its heap ran out', { oomReport: 'r.json' }, { cause: 'oom', signal: 'SIGABRT', report: 'r.json' }],
    ['the kernel killed it', { oomKilled: true }, { cause: 'oom-kill', signal: 'SIGKILL' }],
    ['our kill comes first', { limitSignal: 'SIGTERM', oomReport: 'r.json', oomKilled: true }, { cause: 'limit', signal: 'SIGTERM' }],
    ['its own report before the counter', { oomReport: 'r.json', oomKilled: true }, { cause: 'oom', signal: 'SIGABRT', report: 'r.json' }],
  ];
  it.each(table)('%s', (_name, end, expected) => {
    expect(memberFate(end)).toEqual(expected);
  });
});

describe('exitCodeOf', () => {
  const table: [number | null, NodeJS.Signals | null, number][] = [
    [0, null, 0],
    [3, null, 3],
    [null, 'SIGTERM', 143],
    [null, 'SIGKILL', 137],
    [null, 'SIGINT', 130],
    [null, 'SIGABRT', 134],
  ];
  it.each(table)('code %s signal %s → %i', (code, signal, expected) => {
    expect(exitCodeOf(code, signal)).toBe(expected);
  });
});
