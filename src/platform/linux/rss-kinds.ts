// What a process's RSS is made of, from /proc/<pid>/status: anonymous memory (the heap, Buffers, native
// allocations), file-backed pages (code, mapped files) and shared memory. These are the kernel's own counters,
// the same split /proc/<pid>/smaps_rollup gives, but smaps_rollup walks every mapping's page tables, costing
// many times the CPU of status (benchmarks/results/design-figures.md).
import { readFileSync } from 'node:fs';
import type { RssKinds } from '../types.js';

const FIELDS = { RssAnon: 'anon', RssFile: 'file', RssShmem: 'shmem' } as const;

/** The three RssAnon/RssFile/RssShmem lines of a status file, in bytes; undefined when one is missing. */
export function parseRssKinds(status: string): RssKinds | undefined {
  const kinds: Partial<RssKinds> = {};
  for (const m of status.matchAll(/^(RssAnon|RssFile|RssShmem):\s+(\d+) kB$/gm)) {
    kinds[FIELDS[m[1] as keyof typeof FIELDS]] = Number(m[2]) * 1024;
  }
  return kinds.anon === undefined || kinds.file === undefined || kinds.shmem === undefined ? undefined : (kinds as RssKinds);
}

/** The split of a process's RSS; undefined when it is gone or not ours to read. */
export function readRssKinds(pid: number): RssKinds | undefined {
  try {
    return parseRssKinds(readFileSync(`/proc/${pid}/status`, 'latin1'));
  } catch {
    return undefined;
  }
}
