// The state dir: one private folder holding everything the supervisor writes.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
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

/** sun_path is 108 bytes on Linux, the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;
export const socketFits = (p: string) => Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES;

/**
 * Where a unix socket of this state dir can live: in the state dir itself, or, when that path is longer than
 * a socket path may be, in a private per-user runtime folder under a name derived from the state dir.
 */
export function socketPathFor(stateDir: string, name: string): string {
  const direct = path.join(path.resolve(stateDir), name);
  if (socketFits(direct)) return direct;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const hashed = `${createHash('sha256').update(direct).digest('hex').slice(0, 16)}.sock`;
  const bases = [process.env.XDG_RUNTIME_DIR, tmpdir(), '/tmp'].filter((b): b is string => Boolean(b));
  for (const base of bases) {
    const candidate = path.join(base, `cfn-supervise-${uid}`, hashed);
    if (!socketFits(candidate)) continue;
    try {
      ensurePrivateDir(path.dirname(candidate));
      return candidate;
    } catch {
      // Not ours or not writable: try the next base.
    }
  }
  throw new Error(`no folder short enough for the sockets of ${stateDir}; choose a shorter --state-dir`);
}

/**
 * Makes `socketPath` free to listen on: what a process that died left there is removed; a socket that
 * answers belongs to a live process and is refused with `busy`.
 */
export async function claimSocketPath(socketPath: string, busy: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(busy);
  rmSync(socketPath, { force: true });
}

export interface StatePaths {
  root: string;
  log: string;
  runs: string;
  alerts: string;
  reports: string;
}

export function statePaths(root: string): StatePaths {
  return {
    root,
    log: path.join(root, 'supervisor.log'),
    runs: path.join(root, 'runs.jsonl'),
    alerts: path.join(root, 'alerts.jsonl'),
    reports: path.join(root, 'reports'),
  };
}
