import { describe, expect, it } from 'vitest';
import { parseStat } from '../../src/platform/linux/stat.js';
import type { ProcStat } from '../../src/platform/types.js';
import { collectMembers, groupHeld, type TreeScope } from '../../src/supervisor/proc/tree.js';
import { roleOf } from '../../src/supervisor/watch/sampler.js';

describe('parseStat', () => {
  it('reads fields after a comm holding spaces and parentheses', () => {
    const line = '4242 (node (my) app) S 4200 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 11 0 98765 1000000 2560 18446744073709551615';
    expect(parseStat(line)).toEqual({
      pid: 4242, comm: 'node (my) app', state: 'S', ppid: 4200, pgid: 4242, sid: 4242, cpuTicks: 10, threads: 11, startTime: 98765, rssPages: 2560, exiting: false,
    });
  });
  it('tells a dying process (PF_EXITING in flags) from a live one', () => {
    const dying = '4242 (node) R 4200 4242 4242 0 -1 4194564 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000000 0 18446744073709551615';
    expect(parseStat(dying)?.exiting).toBe(true);
  });
  it('rejects a truncated line', () => {
    expect(parseStat('12 (x) S 1 2')).toBeUndefined();
  });
});

const p = (pid: number, ppid: number, pgid: number, state = 'S', startTime = pid * 10): ProcStat => ({
  pid, ppid, pgid, sid: pgid, state, comm: 'x', cpuTicks: 0, threads: 1, startTime, rssPages: 1, exiting: false,
});

describe('collectMembers', () => {
  // 100 = supervisor (group 90, shared with its own parent), 200 = agent (own group).
  const base = [p(1, 0, 1), p(90, 1, 90), p(100, 90, 90), p(200, 100, 200), p(201, 200, 200), p(202, 201, 202), p(500, 1, 500)];
  const scope = (over: Partial<TreeScope> = {}): TreeScope => ({
    selfPid: 100, selfPgid: 90, agentPid: 200, agentPgid: 200, seen: new Set(), kept: new Set(), ...over,
  });
  const members = (procs: ProcStat[], s: TreeScope) => collectMembers(new Map(procs.map((x) => [x.pid, x])), s).map((x) => x.pid).sort((a, b) => a - b);

  const table: [string, ProcStat[], Partial<TreeScope>, number[]][] = [
    ['descendants, including a setsid grandchild', base, {}, [200, 201, 202]],
    ['an escapee re-parented to init, seen before', [...base.filter((x) => x.pid !== 201 && x.pid !== 202), p(202, 1, 202)], { seen: new Set(['202:2020']) }, [200, 202]],
    ['an escapee re-parented to init, never seen', [...base.filter((x) => x.pid !== 201 && x.pid !== 202), p(202, 1, 202)], {}, [200]],
    ['a recycled pid is not the process seen before', [p(100, 90, 90), p(202, 1, 202, 'S', 999)], { agentPid: undefined, seen: new Set(['202:2020']) }, []],
    ['an orphan adopted by the subreaper', [p(100, 90, 90), p(300, 100, 300, 'Z')], { agentPid: undefined }, [300]],
    ['our own helper child (same group as us) is not the agent\'s', [p(100, 90, 90), p(301, 100, 90)], { agentPid: undefined }, []],
    ['a group member whose parent is gone', [p(100, 90, 90), p(400, 1, 200)], { agentPid: undefined }, [400]],
    ['kept orphans of an earlier run stay out', [p(100, 90, 90), p(300, 100, 300)], { agentPid: undefined, kept: new Set(['300:3000']) }, []],
    ['unrelated processes stay out', [p(100, 90, 90), p(500, 1, 500)], {}, []],
    ['a double-forked daemon no scan saw, found by the run\'s mark (no subreaper)', [...base, p(600, 1, 600), p(601, 600, 600)], { marked: new Set([600]) }, [200, 201, 202, 600, 601]],
    ['a marked process kept with --orphans keep stays out', [p(100, 90, 90), p(600, 1, 600)], { agentPid: undefined, marked: new Set([600]), kept: new Set(['600:6000']) }, []],
  ];
  it.each(table)('%s', (_name, procs, over, expected) => {
    expect(members(procs, scope(over))).toEqual(expected);
  });

  // The agent (200) was reaped: its group's number is the run's only while something of the run is in it.
  const gone = { agentPid: undefined };
  const held: [string, ProcStat[], Partial<TreeScope>, boolean][] = [
    ['the agent unreaped holds it, even with nothing else in the group', [p(100, 90, 90), p(200, 100, 200, 'Z')], {}, true],
    ['a child of the agent seen before, still in the group', [p(100, 90, 90), p(201, 1, 200)], { ...gone, seen: new Set(['201:2010']) }, true],
    ['an orphan adopted by the subreaper, in the group', [p(100, 90, 90), p(201, 100, 200)], gone, true],
    ['a marked process in the group (no subreaper)', [p(100, 90, 90), p(201, 1, 200)], { ...gone, marked: new Set([201]) }, true],
    ['a member outside the group does not hold it', [p(100, 90, 90), p(202, 100, 202)], gone, false],
    ['a group that took the number since, its leader living', [p(100, 90, 90), p(200, 1, 200, 'S', 999), p(201, 200, 200)], gone, false],
    ['a group that took the number since, its leader gone', [p(100, 90, 90), p(201, 1, 200, 'S', 999)], gone, false],
    ['no group: nothing to hold', [p(100, 90, 90)], { ...gone, agentPgid: undefined }, false],
  ];
  it.each(held)('the agent\'s group is held: %s', (_name, procs, over, expected) => {
    expect(groupHeld(new Map(procs.map((x) => [x.pid, x])), scope(over))).toBe(expected);
  });
});

describe('roleOf: stable labels that never carry code or secrets', () => {
  const table: [string[] | undefined, string, boolean, string][] = [
    [['node', 'server.js'], 'node', true, 'agent'],
    [['/usr/bin/node', '/srv/app/server.js', '--port', '3000'], 'node', false, 'node:server.js'],
    [['node', '--max-old-space-size=512', '-r', '/x/probe.cjs', 'worker.js'], 'node', false, 'node:worker.js'],
    [['node', '-e', 'const token = "hunter2"; run(token)'], 'node', false, 'node:-e'],
    [['node', '--eval', 'x'], 'node', false, 'node:--eval'],
    [['node'], 'node', false, 'node'],
    [['sh', '-c', 'node leak.js'], 'sh', false, 'sh'],
    [undefined, 'bash', false, 'bash'],
  ];
  it.each(table)('%j → %s', (argv, comm, isAgent, role) => {
    expect(roleOf(argv, comm, isAgent)).toBe(role);
  });
});
