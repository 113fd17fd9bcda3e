// Whether the machine can afford a heap snapshot, checked before V8 starts one: building it takes memory in
// the agent, several times its RSS, and the file takes disk, about twice the heap
// (benchmarks/results/design-figures.md). An agent pushed into the OOM killer by its own diagnosis, or a disk
// filled for the journals, is worse than no snapshot.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Refused } from '../../common/errors.js';
import { ensurePrivateDir } from '../../common/statedir.js';
import { MB, wholeMb as mib } from '../../common/units.js';
import { pageSize, readStat, systemMemory } from '../../platform/index.js';

export interface HeadroomFactors {
  /** MemAvailable must exceed (memory − 1) × the agent's RSS. */
  memory: number;
  /** Snapshot file bytes per byte of used heap, for the free-space check. */
  file: number;
}

export const DEFAULT_HEADROOM: HeadroomFactors = { memory: 12, file: 2.2 };

/** Disk promised to a snapshot being written, until its file is complete or gone. */
export interface DiskReservation {
  /** Bytes written so far: statfs already counts them as used, so the promise shrinks by as much. */
  wrote(bytes: number): void;
  release(): void;
}

interface Promised {
  estimate: number;
  written: number;
}

/**
 * Disk still promised to snapshots being written into a folder: what each may still write. Snapshots run side by
 * side for many seconds, so each check must count the others' files to come, not only the disk's free space:
 * checked alone, snapshots started together each see the same free space and together fill the disk.
 */
export function stillPromised(promises: Iterable<Promised>): number {
  let sum = 0;
  for (const p of promises) sum += Math.max(0, p.estimate - p.written);
  return sum;
}

/** Per captures folder: one entry per snapshot in flight, so bounded by them. */
const promised = new Map<string, Set<Promised>>();

function reserve(dir: string, estimate: number): DiskReservation {
  const key = path.resolve(dir);
  const held = promised.get(key) ?? new Set<Promised>();
  promised.set(key, held);
  const p: Promised = { estimate, written: 0 };
  held.add(p);
  return {
    wrote: (bytes) => {
      p.written = Math.max(p.written, bytes);
    },
    release: () => {
      held.delete(p);
      if (held.size === 0 && promised.get(key) === held) promised.delete(key);
    },
  };
}

/**
 * Throws Refused, saying what is short and by how much, unless a snapshot of `pid` fits beside the snapshots
 * already being written; when it fits, its disk is reserved until the caller releases it (file complete or gone).
 */
export async function checkSnapshotHeadroom(pid: number, usedHeap: number, capturesDir: string, factors: HeadroomFactors = DEFAULT_HEADROOM): Promise<DiskReservation> {
  const stat = readStat(pid);
  if (!stat) throw new Refused(`pid ${pid}: snapshot refused: the process is gone`, 404);
  const rss = stat.rssPages * pageSize();
  const available = systemMemory().available_mb * MB;
  const need = (factors.memory - 1) * rss;
  if (available < need) {
    throw new Refused(
      `pid ${pid}: snapshot refused: it may need ${mib(need)} MB more (RSS ${mib(rss)} MB × ${factors.memory}) ` +
        `but only ${mib(available)} MB are available`,
    );
  }
  const disk = await fs.statfs(ensurePrivateDir(capturesDir));
  // From here to the reservation nothing awaits: no other check can slip in between.
  const others = stillPromised(promised.get(path.resolve(capturesDir)) ?? []);
  const free = disk.bavail * disk.bsize - others;
  const file = factors.file * usedHeap;
  if (free < file) {
    const beside = others > 0 ? ` beside the snapshots being written (${mib(others)} MB promised to them)` : '';
    throw new Refused(
      `pid ${pid}: snapshot refused: ${mib(Math.max(0, free))} MB free on the captures disk${beside}, the file may need ${mib(file)} MB (${factors.file} × the ${mib(usedHeap)} MB heap)`,
    );
  }
  return reserve(capturesDir, file);
}

/** A snapshot's progress (bytes written) also shrinks its reservation, then goes on to the caller's. */
export function reservedProgress(reservation: DiskReservation, onProgress?: (done: number, total: number) => void): (done: number, total: number) => void {
  return (done, total) => {
    reservation.wrote(done);
    onProgress?.(done, total);
  };
}
