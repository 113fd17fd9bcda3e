import { describe, expect, it } from 'vitest';
import { lastLiving } from '../../src/supervisor/lifecycle/run.js';
import type { ProcessSample } from '../../src/supervisor/watch/policy.js';

const p = (pid: number, rssMb: number): ProcessSample => ({ pid, ppid: 1, role: 'agent', isAgent: pid === 10, rssBytes: rssMb * 1024 * 1024 });

describe('lastLiving', () => {
  const table: [string, ProcessSample[], ProcessSample[], number[]][] = [
    ['every process alive: the tick as read', [p(10, 300), p(11, 50)], [p(10, 310), p(11, 40)], [310, 40]],
    ['the agent killed, its memory released: its reading before', [p(10, 300), p(11, 50)], [p(10, 0), p(11, 40)], [300, 40]],
    ['a zombie never read before stays as read', [p(11, 50)], [p(10, 0), p(11, 40)], [0, 40]],
    ['a process gone since the last tick is not kept', [p(10, 300), p(12, 80)], [p(10, 0)], [300]],
    ['the first tick', [], [p(10, 20)], [20]],
    ['the tree reaped before the run is recorded: the reading before', [p(10, 300), p(11, 50)], [], [300, 50]],
  ];
  it.each(table)('%s', (_, before, now, mb) => {
    expect(lastLiving(before, now).map((x) => x.rssBytes / 1024 / 1024)).toEqual(mb);
  });
});
