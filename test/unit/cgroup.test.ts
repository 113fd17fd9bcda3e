// The memory cgroup reader on recorded cgroup trees of both versions (test/fixtures/cgroup/<case>/ holds the
// proc and sys files it reads); real groups are in test/cgroup.test.ts.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryCgroup, oomKills } from '../../src/platform/cgroup.js';
import { boundedMemory, memoryBoundAt } from '../../src/platform/sysmem.js';
import { fixture } from '../helpers/cli.js';

const tree = (name: string) => fixture(`cgroup/${name}`);
const under = (name: string, rel: string) => path.join(tree(name), rel);
const MB = 1048576;

describe('memoryCgroup', () => {
  const table: [string, { version: 1 | 2; dir: string; limit?: { bytes: number; file: string }; oomFile: string; oom?: number }][] = [
    ['v2', { version: 2, dir: 'sys/fs/cgroup', limit: { bytes: 2048 * MB, file: 'sys/fs/cgroup/memory.max' }, oomFile: 'sys/fs/cgroup/memory.events', oom: 1 }],
    [
      'v2-nested',
      {
        version: 2,
        dir: 'sys/fs/cgroup/system.slice/agent.service',
        limit: { bytes: 3072 * MB, file: 'sys/fs/cgroup/system.slice/agent.service/memory.high' },
        oomFile: 'sys/fs/cgroup/system.slice/agent.service/memory.events',
        oom: 0,
      },
    ],
    ['v2-unlimited', { version: 2, dir: 'sys/fs/cgroup/user.slice', oomFile: 'sys/fs/cgroup/user.slice/memory.events', oom: 0 }],
    [
      'v1',
      {
        version: 1,
        dir: 'sys/fs/cgroup/memory/process_api/abc',
        limit: { bytes: 1024 * MB, file: 'sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes' },
        oomFile: 'sys/fs/cgroup/memory/process_api/abc/memory.oom_control',
        oom: 2,
      },
    ],
    ['v1-container', { version: 1, dir: 'sys/fs/cgroup/memory', limit: { bytes: 512 * MB, file: 'sys/fs/cgroup/memory/memory.limit_in_bytes' }, oomFile: 'sys/fs/cgroup/memory/memory.oom_control', oom: 0 }],
  ];
  it.each(table)('%s', (name, want) => {
    const cg = memoryCgroup(tree(name))!;
    expect(cg).toMatchObject({
      version: want.version,
      dir: under(name, want.dir),
      oomFile: under(name, want.oomFile),
      ...(want.limit ? { limit: { bytes: want.limit.bytes, file: under(name, want.limit.file) } } : {}),
    });
    if (!want.limit) expect(cg.limit).toBeUndefined();
    expect(oomKills(cg)).toBe(want.oom);
  });

  it('finds nothing where there is no proc or cgroup file', () => {
    expect(memoryCgroup(tree('absent'))).toBeUndefined();
  });
});

describe('memoryBoundAt: a limit below the machine bounds the tree', () => {
  it.each([
    ['v2', 2048, 'cgroup memory.max 2048 MB', 500],
    ['v2-nested', 3072, 'cgroup memory.high 3072 MB', 100],
    ['v1', 1024, 'cgroup memory.limit_in_bytes 1024 MB', 200],
    ['v1-container', 512, 'cgroup memory.limit_in_bytes 512 MB', 100],
  ])('%s: %i MB (%s)', (name, totalMb, source, usedMb) => {
    const bound = memoryBoundAt(tree(name))!;
    expect(bound).toMatchObject({ totalMb, source });
    expect(boundedMemory(bound, tree(name))).toEqual({ total_mb: totalMb, used_mb: usedMb, available_mb: totalMb - usedMb, percent: Math.round((usedMb / totalMb) * 1000) / 10 });
  });

  it('none without a limit, or with one above the machine', () => {
    expect(memoryBoundAt(tree('v2-unlimited'))).toBeUndefined();
  });
});
