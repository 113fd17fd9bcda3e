// Everything a benchmark starts is registered in a scope and undone in its finally: process trees killed
// (found through /proc before their root goes, since orphans leave the tree), PM2 daemons killed, temp
// dirs removed. No benchmark may leave a process behind, even when it throws.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { descendants, killAll } from './proc.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for promise, at most ms; the timer is cleared so it cannot hold the process open afterwards. */
export async function within(promise, ms) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls fn until it returns something truthy; throws with label after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 30_000, periodMs = 50, label = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(periodMs);
  }
}

/** The parent's NODE_OPTIONS or a supervisor's socket must not leak into a bare or PM2 run. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith('CFN_SUPERVISE_')) delete env[key];
  return env;
}

/** JSON lines of a journal; a half-written last line is skipped, a missing file is empty. */
export function readJsonl(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line)] : [];
    } catch {
      return [];
    }
  });
}

/** A unique argv marker, so an agent can be found by its command line wherever it sits in a tree. */
export const marker = (name) => `bench-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

// The scopes still running. Ctrl-C or a kill ends node before any finally, while the benchmark's code would go on
// starting things: the signal kills at once every process of this benchmark (its own children and the trees it
// tracked) and removes the folders, then exits as the signal would have.
const open = new Set();

function abandonOnSignal(signal) {
  process.stderr.write(`bench: ${signal}, killing what the running benchmark started\n`);
  for (const abandon of open) abandon();
  process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
}

export async function withScope(fn) {
  if (open.size === 0 && process.listenerCount('SIGINT') === 0) {
    process.once('SIGINT', abandonOnSignal);
    process.once('SIGTERM', abandonOnSignal);
  }
  const undo = [];
  const dirs = [];
  const roots = new Set();
  const abandon = () => {
    killAll([...roots, ...[...roots, process.pid].flatMap((pid) => descendants(pid))]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  open.add(abandon);
  const scope = {
    tempDir(prefix) {
      const dir = mkdtempSync(path.join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    /** A pid whose whole tree dies when the scope ends. */
    track(pid) {
      roots.add(pid);
    },
    defer(cleanup) {
      undo.push(cleanup);
    },
  };
  try {
    return await fn(scope);
  } finally {
    open.delete(abandon);
    const doomed = [...roots].flatMap((pid) => [pid, ...descendants(pid)]);
    for (const cleanup of undo.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        process.stderr.write(`bench cleanup: ${err instanceof Error ? err.message : err}\n`);
      }
    }
    killAll([...doomed, ...[...roots].flatMap((pid) => descendants(pid))]);
    // Last, so nothing still running writes into a removed folder.
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
