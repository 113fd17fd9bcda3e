// How long a heap snapshot may take. V8 builds the whole graph on the agent's main thread before its first chunk,
// and that silent phase grows with the heap: a fixed silence limit abandons every snapshot of a big heap, and of
// a middling one on a busy machine. The rates are the slowest allowed for, a loaded machine's, not typical ones.
import { MB } from '../../common/units.js';

/** Used heap a snapshot's silent build may cover per second before it is deemed stuck. */
const SLOWEST_BUILD_BYTES_PER_S = 2 * MB;
/** Used heap a whole snapshot (build and write) may cover per second before its total cap. */
const SLOWEST_SNAPSHOT_BYTES_PER_S = MB / 2;

export interface SnapshotLimits {
  /** The longest silence (no chunk, no progress) before the snapshot is abandoned. */
  idleMs: number;
  /** The longest the whole snapshot may take. */
  totalMs: number;
}

/** The configured limits, raised for a heap too big to be built or written within them. */
export function snapshotLimits(usedHeapBytes: number, configured: SnapshotLimits): SnapshotLimits {
  const used = Number.isFinite(usedHeapBytes) && usedHeapBytes > 0 ? usedHeapBytes : 0;
  return {
    idleMs: Math.max(configured.idleMs, Math.ceil((used / SLOWEST_BUILD_BYTES_PER_S) * 1000)),
    totalMs: Math.max(configured.totalMs, Math.ceil((used / SLOWEST_SNAPSHOT_BYTES_PER_S) * 1000)),
  };
}
