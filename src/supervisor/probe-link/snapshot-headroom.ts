// Whether the machine can afford a heap snapshot, checked before V8 starts one: building it takes memory in
// the agent (its RSS grew 5–12× in measurements) and the file takes disk (a 254 MB heap wrote 556 MB). An
// agent pushed into the OOM killer by its own diagnosis, or a disk filled for the journals, is worse than no
// snapshot.
import { promises as fs } from 'node:fs';
import { Refused } from '../../common/errors.js';
import { ensurePrivateDir } from '../../common/statedir.js';
import { systemMemory } from '../../common/sysmem.js';
import { MB, wholeMb as mib } from '../../common/units.js';
import { pageSize, readStat } from '../proc/stat.js';

export interface HeadroomFactors {
  /** MemAvailable must exceed (memory − 1) × the agent's RSS. */
  memory: number;
  /** Snapshot file bytes per byte of used heap, for the free-space check. */
  file: number;
}

export const DEFAULT_HEADROOM: HeadroomFactors = { memory: 12, file: 2.2 };

/** Throws Refused, saying what is short and by how much, unless a snapshot of `pid` fits. */
export async function checkSnapshotHeadroom(pid: number, usedHeap: number, capturesDir: string, factors: HeadroomFactors = DEFAULT_HEADROOM): Promise<void> {
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
  const free = disk.bavail * disk.bsize;
  const file = factors.file * usedHeap;
  if (free < file) {
    throw new Refused(
      `pid ${pid}: snapshot refused: ${mib(free)} MB free on the captures disk, the file may need ${mib(file)} MB (${factors.file} × the ${mib(usedHeap)} MB heap)`,
    );
  }
}
