// The memory cgroup the supervisor runs in (a container's, a systemd unit's): its limit, read once at start, and
// where the kernel counts its OOM kills, read only when a process dies unexpectedly. Both versions: v2
// (memory.max, memory.high, memory.events) and v1 (memory.limit_in_bytes, memory.oom_control), found through
// /proc/self/cgroup and /proc/self/mountinfo. Every path is under `root`, so recorded trees read the same way.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface CgroupMemory {
  version: 1 | 2;
  /** The group the supervisor is in. */
  dir: string;
  /** The lowest limit from this group up to its hierarchy's root, and the file that sets it. */
  limit?: { bytes: number; file: string };
  /** Where the kernel counts the OOM kills of the group that sets the limit (or of ours, without one). */
  oomFile: string;
  /** What the group that sets the limit uses now. */
  usageFile: string;
}

/** v1 writes "no limit" as the largest page-aligned signed 64-bit value; anything this large is none. */
const NO_LIMIT_V1 = 2 ** 62;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  superOptions: string[];
}

/** mountinfo: `id parent major:minor root mount-point options [optional...] - fstype source super-options`. */
function mounts(text: string): Mount[] {
  return text.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    if (!left || !right) return [];
    const f = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    if (!f[3] || !f[4] || !fstype) return [];
    const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return [{ root: unescape(f[3]), point: unescape(f[4]), fstype, superOptions: superOptions.split(',') }];
  });
}

/** The group's folder: the mount point plus the group's path below the mount's root (a namespace's root is `/`). */
function groupDir(root: string, mount: Mount, group: string): string {
  const below = mount.root === '/' ? group : group.startsWith(`${mount.root}/`) || group === mount.root ? group.slice(mount.root.length) : '/';
  return path.resolve(path.join(root, mount.point, below));
}

const bytesOf = (text: string | undefined): number | undefined => {
  const v = text?.trim();
  if (!v || v === 'max') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 && n < NO_LIMIT_V1 ? n : undefined;
};

/** From `dir` up to the mount point: the group whose limit binds lowest. */
function lowestLimit(dir: string, top: string, files: readonly string[]): { bytes: number; file: string } | undefined {
  let best: { bytes: number; file: string } | undefined;
  for (let d = dir; ; d = path.dirname(d)) {
    for (const name of files) {
      const file = path.join(d, name);
      const bytes = bytesOf(read(file));
      if (bytes !== undefined && (!best || bytes < best.bytes)) best = { bytes, file };
    }
    if (d === top || !d.startsWith(`${top}/`)) return best;
  }
}

/** The memory cgroup of this process, v2 where it holds the memory controller, else v1; undefined without one. */
export function memoryCgroup(root = '/'): CgroupMemory | undefined {
  const own = read(path.join(root, 'proc/self/cgroup'));
  const info = read(path.join(root, 'proc/self/mountinfo'));
  if (!own || !info) return undefined;
  const all = mounts(info);
  const lines = own.split('\n').map((l) => l.split(':'));
  const v2Group = lines.find((l) => l[0] === '0' && l[1] === '')?.[2];
  const v2Mount = all.find((m) => m.fstype === 'cgroup2');
  if (v2Group !== undefined && v2Mount) {
    const dir = groupDir(root, v2Mount, v2Group);
    // Without the memory controller enabled for it, a v2 group has no memory.* files: v1 may hold it instead.
    if (read(path.join(dir, 'memory.max')) !== undefined) {
      const limit = lowestLimit(dir, path.resolve(path.join(root, v2Mount.point)), ['memory.max', 'memory.high']);
      const at = limit ? path.dirname(limit.file) : dir;
      return { version: 2, dir, ...(limit ? { limit } : {}), oomFile: path.join(at, 'memory.events'), usageFile: path.join(at, 'memory.current') };
    }
  }
  const v1Group = lines.find((l) => l[1]?.split(',').includes('memory'))?.[2];
  const v1Mount = all.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('memory'));
  if (v1Group === undefined || !v1Mount) return undefined;
  const dir = groupDir(root, v1Mount, v1Group);
  if (read(path.join(dir, 'memory.limit_in_bytes')) === undefined) return undefined;
  const limit = lowestLimit(dir, path.resolve(path.join(root, v1Mount.point)), ['memory.limit_in_bytes']);
  const at = limit ? path.dirname(limit.file) : dir;
  return { version: 1, dir, ...(limit ? { limit } : {}), oomFile: path.join(at, 'memory.oom_control'), usageFile: path.join(at, 'memory.usage_in_bytes') };
}

/** OOM kills the kernel counted in the group (`oom_kill N` in memory.events or memory.oom_control). */
export function oomKills(cg: CgroupMemory): number | undefined {
  const m = /^oom_kill (\d+)$/m.exec(read(cg.oomFile) ?? '');
  return m ? Number(m[1]) : undefined;
}

export function cgroupUsageBytes(cg: CgroupMemory): number | undefined {
  return bytesOf(read(cg.usageFile));
}

/** How `config` names where a default came from: `cgroup memory.max 2048 MB`. */
export function limitSource(limit: { bytes: number; file: string }): string {
  return `cgroup ${path.basename(limit.file)} ${Math.round(limit.bytes / 1048576)} MB`;
}
