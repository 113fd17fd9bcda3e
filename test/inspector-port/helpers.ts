// Targets for the inspector-port path: plain node processes started without the supervisor or the probe, each
// ended after its test (test/helpers/cli.ts tracks them). They open their inspector on a free port
// (--inspect-port=0), so files running side by side never contend for 9229; default-port.test.ts covers 9229.
import { type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fixture, spawnTracked, waitFor } from '../helpers/cli.js';
import { listenersOf } from '../../src/platform/linux/sockets.js';
import type { InspectorPortOptions } from '../../src/supervisor/inspector-port/inspector-port.js';

export const OPTS: InspectorPortOptions = { callTimeoutMs: 5000, openTimeoutMs: 10_000 };
export const DRIVER = fixture('inspector-port/driver.mjs');

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function start(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid: child.pid!, stdout: () => out, stderr: () => err, exited };
}

/** A fixture of test/fixtures/inspector-port, once its event loop runs (it prints `ready`). */
export async function target(name: string, args: string[] = [], opts: { defaultPort?: boolean; preload?: string } = {}): Promise<Proc> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.CFN_SUPERVISE_SOCKET;
  const options = [...(opts.defaultPort ? [] : ['--inspect-port=0']), ...(opts.preload ? ['--require', fixture(path.join('inspector-port', opts.preload))] : [])];
  if (options.length > 0) env.NODE_OPTIONS = options.join(' ');
  const p = start(process.execPath, [fixture(path.join('inspector-port', name)), ...args], { env });
  await waitFor(() => p.stdout().includes('ready'), 15_000, `${name} ready`);
  return p;
}

/** The TCP ports the process listens on, from /proc/<pid>/net/tcp{,6} against its socket inodes. */
export const listeningPorts = (pid: number): number[] => (listenersOf(pid) ?? []).map((l) => l.port);

/** Runs a built command (dist/cli/monitor.js) as its own process through the driver fixture. */
export function driver(command: 'monitor' | 'capture' | 'gc', options: object, env: NodeJS.ProcessEnv = {}): Proc {
  return start(process.execPath, [DRIVER, command, JSON.stringify(options)], { env: { ...process.env, ...env } });
}

export async function rejection(work: Promise<unknown>): Promise<Error & { status?: number; problem?: string }> {
  let value: unknown;
  try {
    value = await work;
  } catch (err) {
    return err as Error & { status?: number; problem?: string };
  }
  // What it opened instead says whose port it was.
  const port = (value as { port?: number } | undefined)?.port;
  throw new Error(`expected a rejection${port === undefined ? '' : `, but it opened an inspector on port ${port}`}`);
}
