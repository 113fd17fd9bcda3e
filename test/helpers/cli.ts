// Runs the built CLI as a real process, the way a person or a script would, and keeps the suite from leaking:
// every process started here and every temp folder made here is ended and removed after its test (or, when
// made for a whole file, after the file), also when the test fails. test/helpers/setup.ts installs the hooks.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { vi } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { controlPaths, type ProcessView } from '../../src/supervisor/control/protocol.js';

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

// Each tracked pid with its start time: pids go round quickly here (pid_max 32768 and thousands of processes a
// run), and a pid that exited early may be another test's supervisor by the time this one ends.
const owned: Record<Scope, { pids: Map<number, string | undefined>; dirs: Set<string>; undo: (() => unknown)[] }> = {
  test: { pids: new Map(), dirs: new Set(), undo: [] },
  file: { pids: new Map(), dirs: new Set(), undo: [] },
};

export function tempDir(prefix = 'cfn-test-', scope: Scope = 'test'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  owned[scope].dirs.add(dir);
  return dir;
}

/** Runs `fn` when the scope ends, after its processes are gone and before its folders go (an unmount, a server's
 *  close); the last registered runs first. */
export function onCleanup(fn: () => unknown, scope: Scope = 'test'): void {
  owned[scope].undo.push(fn);
}

/** A process this test started some other way: it and everything under it is ended with the test. */
export function track(pid: number | undefined, scope: Scope = 'test'): void {
  if (pid !== undefined && !owned[scope].pids.has(pid)) owned[scope].pids.set(pid, startTimeOf(pid));
}

/** The process group `pgid` (a process started as its leader) ended with the scope: while its leader is still
 *  that process, or gone with the group left behind; never a group that a new leader has the number of since. */
export function trackGroup(pgid: number, scope: Scope = 'test'): void {
  const start = startTimeOf(pgid);
  onCleanup(() => {
    const now = startTimeOf(pgid);
    if (now === undefined || now === start) killQuietly(-pgid);
  }, scope);
}

/** `fn` (spawn, execFile) whose every process is tracked in `scope`; the only way tests start processes that run
 *  on while the test goes on (test/unit/test-hygiene.test.ts checks). */
function tracking<F extends (...args: never[]) => ChildProcess>(fn: F, scope: Scope): F {
  return ((...args: Parameters<F>) => {
    const child = (fn as (...a: Parameters<F>) => ChildProcess)(...args);
    track(child.pid, scope);
    return child;
  }) as F;
}

export const spawnTracked = tracking(spawn, 'test');
/** For a beforeAll: ended after the file. */
export const spawnTrackedForFile = tracking(spawn, 'file');
export const execFileTracked = tracking(execFile, 'test');

/** The fields of /proc/<pid>/stat after the command's closing parenthesis (field 3 on); undefined once it is gone. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat: with the pid, which process it is. */
const startTimeOf = (pid: number): string | undefined => statFields(pid)?.[19];

function parentsOf(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // Gone between listing and reading: not a parent of anything.
    const ppid = statFields(name)?.[1];
    if (ppid !== undefined) parents.set(Number(name), Number(ppid));
  }
  return parents;
}

/** The pid and all its descendants. A supervisor is a subreaper, so even its agent's orphans are among them. */
export function descendantsOf(root: number): number[] {
  return treesOf([root]);
}

/** The roots and all their descendants, from one pass over /proc: a test may track a thousand processes. */
function treesOf(roots: number[]): number[] {
  const parents = parentsOf();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const found = new Set(roots);
  for (const pid of found) for (const child of children.get(pid) ?? []) found.add(child);
  return [...found].filter((pid) => parents.has(pid));
}

/** Ends what a scope started (SIGKILL to every descendant, then waits for them), undoes what it registered and
 *  removes its folders. */
export async function cleanup(scope: Scope): Promise<void> {
  const { pids, dirs, undo } = owned[scope];
  // Only the processes still the ones tracked: a pid gone and given to another process is not ours.
  const all = treesOf([...pids].filter(([pid, start]) => start !== undefined && startTimeOf(pid) === start).map(([pid]) => pid));
  for (const pid of all) killQuietly(pid);
  const deadline = Date.now() + 10_000;
  while (all.some(isAlive) && Date.now() < deadline) await sleep(25);
  pids.clear();
  const errors: unknown[] = [];
  for (const fn of undo.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  // A process killed last may still be ending (a supervisor whose terminal closed writes its record): retried.
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  dirs.clear();
  if (errors.length > 0) throw errors[0];
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

let clockTicks: number | undefined;
/** CPU time (user and system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
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
  ).catch((err: Error) => {
    let files = '';
    try {
      const dir = path.join(cwd, '.cfn-supervise/captures');
      files = readdirSync(dir).map((f) => `${f} ${statSync(path.join(dir, f)).size} B`).join(', ');
    } catch {
      // No captures folder.
    }
    throw new Error(`${err.message}; the supervisor's log on captures: ${captureLog(cwd)}; captures: ${files}`);
  });
}

/** What the supervisor logged about captures and actions (taken, refused, failed): why an expected one is missing. */
function captureLog(cwd: string): string {
  try {
    const lines = readJsonl(path.join(cwd, '.cfn-supervise/supervisor.log')).filter((l) => /capture|snapshot|action|linked|registered/.test(String(l.msg)));
    return JSON.stringify(lines.slice(-8).map(({ msg, pid, reason, err }) => ({ msg, pid, reason, err })));
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  }
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

/** The supervisor's /metrics on `stateDir`, through its control socket. */
export function scrape(stateDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath: controlPaths(stateDir).socket, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    })
      .on('timeout', function (this: { destroy(err: Error): void }) {
        this.destroy(new Error('/metrics did not answer in 5 s'));
      })
      .on('error', reject)
      .end();
  });
}

/** How many watch ticks the supervisor on `stateDir` has completed, or undefined while it does not answer: what a
 *  test waits for before asserting that something did not happen by then (a fixed sleep proves nothing on a
 *  loaded machine, where the supervisor may not have ticked at all). */
async function ticksDone(stateDir: string): Promise<number | undefined> {
  const text = await scrape(stateDir).catch(() => undefined);
  const count = text && /^cfn_supervise_sample_duration_seconds_count (\d+)/m.exec(text)?.[1];
  return count ? Number(count) : undefined;
}

/** Polls until the supervisor on `stateDir` has completed `n` ticks in all. */
export function untilTicks(stateDir: string, n: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(async () => {
    const done = await ticksDone(stateDir);
    return done !== undefined && done >= n && done;
  }, timeoutMs, `${n} ticks of the supervisor on ${stateDir}`);
}

/** Polls until the supervisor on `stateDir` lists a process that `match` accepts (GET /processes), and returns it. */
export function untilProcess(stateDir: string, match: (p: ProcessView) => boolean, timeoutMs = 30_000, what = 'the process'): Promise<ProcessView> {
  const client = new ControlClient(stateDir);
  return waitFor(async () => (await client.request<{ processes: ProcessView[] }>('GET', '/processes')).processes.find(match), timeoutMs, what);
}

/** Waits until no other test holds `name`, then holds it until the scope ends: for what two files running side by
 *  side cannot share, such as node's default inspector port. The lock file names its holder's pid, so a holder that
 *  died without its cleanup does not hold it forever. */
export async function exclusive(name: string, timeoutMs = 90_000, scope: Scope = 'test'): Promise<void> {
  const file = path.join(tmpdir(), `cfn-test-${name}.lock`);
  await waitFor(
    () => {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        return true;
      } catch {
        const holder = Number(readFileSync(file, { encoding: 'utf8', flag: 'a+' }));
        // 0: created but not written yet, so held.
        if (holder > 0 && !isAlive(holder)) rmSync(file, { force: true });
        return false;
      }
    },
    timeoutMs,
    `the ${name} lock (${file})`,
  );
  onCleanup(() => rmSync(file, { force: true }), scope);
}
