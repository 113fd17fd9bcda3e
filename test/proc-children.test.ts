// The tree is found through /proc/<pid>/task/<tid>/children, a seq_file: one read hands out whole records only,
// so a long list comes in several reads and a short read is not its end.
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childrenOf } from '../src/supervisor/proc/stat.js';
import { killQuietly, waitFor } from './helpers/cli.js';

describe('childrenOf', () => {
  it('lists every child of a process with more children than one read hands out', async () => {
    const kids: ChildProcess[] = [];
    try {
      // 5–7 bytes per pid: 1000 children are more than one 4 KiB read.
      for (let i = 0; i < 1000; i++) kids.push(spawn('sleep', ['60'], { stdio: 'ignore' }));
      const pids = kids.map((k) => k.pid!);
      expect(pids.join(' ').length).toBeGreaterThan(4096);
      // Spawned processes appear in the list once forked; poll until all are, then check none is listed twice.
      await waitFor(() => pids.every((pid) => childrenOf('self').includes(pid)), 30_000, '1000 children listed');
      const listed = childrenOf('self').filter((pid) => pids.includes(pid));
      expect(new Set(listed).size).toBe(1000);
      expect(listed).toHaveLength(1000);
    } finally {
      for (const k of kids) killQuietly(k.pid!);
    }
  });
});
