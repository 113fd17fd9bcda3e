// System memory from /proc/meminfo: what preflight waits on and what every alert line reports.
import { readFileSync } from 'node:fs';

export interface SystemMemory {
  total_mb: number;
  available_mb: number;
  used_mb: number;
  percent: number;
}

export function parseMeminfo(text: string): SystemMemory {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  const mb = (k: number) => Math.round(k / 1024);
  return {
    total_mb: mb(total),
    available_mb: mb(available),
    used_mb: mb(total - available),
    percent: Math.round(((total - available) / total) * 1000) / 10,
  };
}

export function systemMemory(): SystemMemory {
  return parseMeminfo(readFileSync('/proc/meminfo', 'latin1'));
}
