// The machine's memory without /proc/meminfo (the portable backend, and sysmem.ts on macOS): macOS from
// `sysctl -n hw.memsize` and `vm_stat`, elsewhere (Linux under the portable backend) from `free -b`. Available means what can be had without swapping: on macOS the
// free, inactive, speculative and purgeable pages, as Activity Monitor's "memory used" leaves them out.
import { execFileSync } from 'node:child_process';
import type { SystemMemory } from './sysmem.js';

const TIMEOUT_MS = 5000;
const MB = 1048576;

export function memoryFigures(totalBytes: number, availableBytes: number): SystemMemory {
  const used = totalBytes - availableBytes;
  return {
    total_mb: Math.round(totalBytes / MB),
    available_mb: Math.round(availableBytes / MB),
    used_mb: Math.round(used / MB),
    percent: Math.round((used / totalBytes) * 1000) / 10,
  };
}

/** Pure: vm_stat's output (`Mach Virtual Memory Statistics: (page size of 16384 bytes)`, `Pages free: 1234.`). */
export function parseVmStat(text: string): number | undefined {
  const page = Number(/page size of (\d+) bytes/.exec(text)?.[1]);
  const pages = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\.?$`, 'm').exec(text)?.[1] ?? 0);
  if (!page) return undefined;
  return (pages('Pages free') + pages('Pages inactive') + pages('Pages speculative') + pages('Pages purgeable')) * page;
}

/** Pure: `free -b`'s Mem line: total used free shared buff/cache available. */
export function parseFree(text: string): { total: number; available: number } | undefined {
  const w = /^Mem:\s+(.*)$/m.exec(text)?.[1]?.split(/\s+/).map(Number);
  if (!w || w.length < 6) return undefined;
  return { total: w[0]!, available: w[5]! };
}

const run = (file: string, args: string[]) => execFileSync(file, args, { encoding: 'utf8', timeout: TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'ignore'] });

export function systemMemory(os: NodeJS.Platform = process.platform): SystemMemory {
  if (os === 'darwin') {
    const total = Number(run('sysctl', ['-n', 'hw.memsize']).trim());
    const available = parseVmStat(run('vm_stat', []));
    if (!total || available === undefined) throw new Error('vm_stat or sysctl hw.memsize gave no figures');
    return memoryFigures(total, available);
  }
  const free = parseFree(run('free', ['-b']));
  if (!free) throw new Error('free -b gave no Mem line');
  return memoryFigures(free.total, free.available);
}
