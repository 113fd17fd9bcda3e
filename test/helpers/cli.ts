// Runs the built CLI as a real process, the way a person or a script would, and keeps the suite from leaking:
// every process started here and every temp folder made here is ended and removed after its test (or, when
// made for a whole file, after the file), also when the test fails. test/helpers/setup.ts installs the hooks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { vi } from 'vitest';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.cjs');
/** The installed command: a shell launcher in front of CLI (see its comment). */
export const BIN = path.join(ROOT, 'bin/cfn-supervise');
export const fixture = (name: string) => path.join(ROOT, 'test/fixtures', name);
/**
 * The integration tier also runs with CFN_SUPERVISE_BACKEND=portable (npm run test:portable): what only the linux
 * backend can do (a subreaper, the parent-death signal, /proc's namespaces) is expected of it alone.
 */
export const PORTABLE_BACKEND = process.env.CFN_SUPERVISE_BACKEND === 'portable';

/** 'test': ended and removed after the current test; 'file': after the current file (made in beforeAll). */
export type Scope = 'test' | 'file';

const owned: Record<Scope, { pids: Set<number>; dirs: Set<string> }> = {
  test: { pids: new Set(), dirs: new Set() },
  file: { pids: new Set(), dirs: new Set() },
};

export function tempDir(prefix = 'cfn-test-', scope: Scope = 'test'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  owned[scope].dirs.add(dir);
  return dir;
}

/** A process this test started some other way: it and everything under it is ended with the test. */
export function track(pid: number | undefined, scope: Scope = 'test'): void {
  if (pid !== undefined) owned[scope].pids.add(pid);
}

function parentsOf(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone between listing and reading.
    }
  }
  return parents;
}

/** The pid and all its descendants. A supervisor is a subreaper, so even its agent's orphans are among them. */
export function descendantsOf(root: number): number[] {
  const parents = parentsOf();
  const found = [root];
  for (let i = 0; i < found.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === found[i] && !found.includes(pid)) found.push(pid);
  }
  return found.filter((pid) => parents.has(pid));
}

/** Ends what a scope started (SIGKILL to every descendant, then waits for them) and removes its folders. */
export async function cleanup(scope: Scope): Promise<void> {
  const { pids, dirs } = owned[scope];
  const all = [...pids].flatMap(descendantsOf);
  for (const pid of all) killQuietly(pid);
  const deadline = Date.now() + 10_000;
  while (all.some(isAlive) && Date.now() < deadline) await sleep(25);
  pids.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

export interface Started {
  child: ChildProcess;
  stdout: () => Buffer;
  stderr: () => Buffer;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the installed command, BIN, as a user's shell would. */
export function startCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; scope?: Scope }): Started {
  const child = spawn(BIN, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child.pid, opts.scope);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => Buffer.concat(out), stderr: () => Buffer.concat(err), exited };
}

export async function runCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const started = startCli(args, opts);
  const { code, signal } = await started.exited;
  return { code, signal, stdout: started.stdout(), stderr: started.stderr() };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is dead for every purpose but the process table.
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** Polls (vi.waitFor) until `probe` gives a value; deadlines are chosen to hold with both cores busy. */
export function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  return vi.waitFor(
    async () => {
      const v = await probe();
      if (!v) throw new Error(`timed out waiting for ${what}`);
      return v;
    },
    { timeout: timeoutMs, interval: 25 },
  );
}

export function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The analysed capture a rule's alert led to, once alerts.jsonl has it (`reason` starts with `rule`). */
export function analysedCapture(cwd: string, rule: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const alerts = path.join(cwd, '.cfn-supervise/alerts.jsonl');
  return waitFor(
    () => {
      try {
        return readJsonl(alerts).find((a) => a.metric === 'capture' && String(a.reason).startsWith(rule));
      } catch {
        return undefined;
      }
    },
    timeoutMs,
    `the ${rule} capture, analysed`,
  );
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
