// The tree is found through /proc/<pid>/task/<tid>/children, a seq_file: one read hands out whole records only,
// so a long list comes in several reads and a short read is not its end. Between scans, the members' files stay
// open and are read again from the start, which must read what a fresh open would.
import { type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OpenProcFiles, childrenOf, scanFrom } from '../src/platform/linux/stat.js';
import { killQuietly, spawnTracked, waitFor } from './helpers/cli.js';

describe('childrenOf', () => {
  it('lists every child of a process with more children than one read hands out', async () => {
    const kids: ChildProcess[] = [];
    try {
      // 5–7 bytes per pid: 1000 children are more than one 4 KiB read.
      for (let i = 0; i < 1000; i++) kids.push(spawnTracked('sleep', ['60'], { stdio: 'ignore' }));
      const pids = kids.map((k) => k.pid!);
      expect(pids.join(' ').length).toBeGreaterThan(4096);
      // Spawned processes appear in the list once forked; poll until all are, then check none is listed twice.
      await waitFor(() => pids.every((pid) => childrenOf('self').includes(pid)), 30_000, '1000 children listed');
      const listed = childrenOf('self').filter((pid) => pids.includes(pid));
      expect(new Set(listed).size).toBe(1000);
      expect(listed).toHaveLength(1000);
      // The same list through a file kept open, read twice: each read from the start is a whole, fresh list.
      const files = new OpenProcFiles();
      for (let i = 0; i < 2; i++) expect(childrenOf(process.pid, true, files).filter((pid) => pids.includes(pid)).sort()).toEqual([...listed].sort());
      expect(files.size).toBe(1);
      files.close();
    } finally {
      for (const k of kids) killQuietly(k.pid);
    }
  });
});

describe('OpenProcFiles', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('keeps the files of what a scan found, and closes those of a process that is gone', async () => {
    // A shell with two sleeping children, in a group of their own to be killed whole: three processes.
    const root = spawnTracked('sh', ['-c', 'sleep 60 & sleep 60 & wait'], { stdio: 'ignore', detached: true });
    const files = new OpenProcFiles();
    const before = openFds();
    try {
      await waitFor(() => scanFrom([root.pid!], files).size === 3, 30_000, 'the shell and its two children');
      expect(files.size).toBe(6);
      expect(openFds()).toBe(before + 6);
      const child = [...scanFrom([root.pid!], files).keys()].find((pid) => pid !== root.pid)!;
      killQuietly(child);
      await waitFor(() => !scanFrom([root.pid!], files).has(child), 30_000, 'the killed child gone from the scan');
      expect(files.size).toBe(4);
      // A partial scan from elsewhere reads none of them: all are closed.
      scanFrom([], files);
      expect(files.size).toBe(0);
      expect(openFds()).toBe(before);
    } finally {
      files.close();
      killQuietly(-root.pid!);
    }
  });

  it('reads past its bound without keeping more files open', () => {
    const files = new OpenProcFiles(1);
    try {
      const procs = scanFrom([process.pid], files);
      expect(procs.get(process.pid)?.pid).toBe(process.pid);
      expect(files.size).toBe(1);
    } finally {
      files.close();
    }
  });
});
