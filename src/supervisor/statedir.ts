// The state dir: one private folder holding everything the supervisor writes.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export function ensurePrivateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new Error(`${dir} belongs to another user; choose another --state-dir`);
  }
  // mkdir leaves an existing folder's mode alone, and the umask may have widened a new one's.
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

export interface StatePaths {
  root: string;
  log: string;
  runs: string;
  alerts: string;
  reports: string;
  captures: string;
  registrySocket: string;
}

export function statePaths(root: string): StatePaths {
  return {
    root,
    log: path.join(root, 'supervisor.log'),
    runs: path.join(root, 'runs.jsonl'),
    alerts: path.join(root, 'alerts.jsonl'),
    reports: path.join(root, 'reports'),
    captures: path.join(root, 'captures'),
    registrySocket: path.join(root, 'registry.sock'),
  };
}
