// System memory from /proc/meminfo: what preflight waits on and what every alert line reports; and the memory
// the agent's tree may really use, which a container's cgroup can hold far below the machine's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { systemMemory as memoryFromTools } from './memory-tools.js';
import { cgroupUsageBytes, limitSource, memoryCgroup, type CgroupMemory } from './cgroup.js';

export interface SystemMemory {
  total_mb: number;
  available_mb: number;
  used_mb: number;
  percent: number;
}

const percentOf = (used: number, total: number) => Math.round((used / total) * 1000) / 10;

export function parseMeminfo(text: string): SystemMemory {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  const mb = (k: number) => Math.round(k / 1024);
  return {
    total_mb: mb(total),
    available_mb: mb(available),
    used_mb: mb(total - available),
    percent: percentOf(total - available, total),
  };
}

export function systemMemory(root = '/'): SystemMemory {
  // macOS has no /proc: sysctl and vm_stat say the same (preflight, config defaults, check, diagnostics).
  if (root === '/' && process.platform !== 'linux') return memoryFromTools();
  return parseMeminfo(readFileSync(path.join(root, 'proc/meminfo'), 'latin1'));
}

/** A cgroup limit below the machine's memory: what the defaults, `check` and `diagnostics` measure against. */
export interface MemoryBound {
  totalMb: number;
  /** Where it came from, as `config` shows it: `cgroup memory.max 2048 MB`. */
  source: string;
  cgroup: CgroupMemory;
}

export function memoryBoundAt(root: string): MemoryBound | undefined {
  let cgroup: CgroupMemory | undefined;
  let hostMb: number;
  try {
    cgroup = memoryCgroup(root);
    hostMb = systemMemory(root).total_mb;
  } catch {
    return undefined;
  }
  const limit = cgroup?.limit;
  if (!cgroup || !limit) return undefined;
  const totalMb = Math.round(limit.bytes / 1048576);
  return totalMb < hostMb ? { totalMb, source: limitSource(limit), cgroup } : undefined;
}

let own: { bound: MemoryBound | undefined; cgroup: CgroupMemory | undefined } | undefined;
/** This process's cgroup and bound, read once: a group's limit does not change under a running supervisor in practice. */
function ownMemory(): NonNullable<typeof own> {
  if (!own) {
    const bound = memoryBoundAt('/');
    let cgroup = bound?.cgroup;
    try {
      cgroup ??= memoryCgroup('/');
    } catch {
      // No readable cgroup: no OOM-kill counter either.
    }
    own = { bound, cgroup };
  }
  return own;
}

export const memoryBound = (): MemoryBound | undefined => ownMemory().bound;
/** The supervisor's memory cgroup, limited or not: where the kernel counts the OOM kills of its tree. */
export const ownCgroup = (): CgroupMemory | undefined => ownMemory().cgroup;

/** System memory within the bound: its limit as the total, what the group uses counted against it. */
export function boundedMemory(bound: MemoryBound | undefined, root = '/'): SystemMemory {
  const host = systemMemory(root);
  if (!bound) return host;
  const usedBytes = cgroupUsageBytes(bound.cgroup);
  const used = usedBytes === undefined ? host.used_mb : Math.round(usedBytes / 1048576);
  const total = bound.totalMb;
  return { total_mb: total, available_mb: Math.max(0, Math.min(host.available_mb, total - used)), used_mb: used, percent: percentOf(used, total) };
}
