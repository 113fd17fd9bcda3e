// What the fault tests share: mounts undone after each test (test/helpers/cli.ts's scope, like their folders
// and processes), and the built modules run in a process of their own, for the faults that need one: a hang, a
// race between two processes.
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, onCleanup, spawnTracked } from '../helpers/cli.js';

/** Mounts a tmpfs of `size` (e.g. '256k') on `dir`, unmounted after the test; returns why not if refused. */
export function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return `mount -t tmpfs refused: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  onCleanup(() => execFileSync('umount', [dir], { stdio: 'pipe' }));
  return undefined;
}

/** A module of the build, as an import specifier for a child's script. */
export const built = (module: string) => JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', module)).href);

export interface NodeChild {
  child: ChildProcess;
  /** Everything the child wrote on stdout so far, one entry per line. */
  lines: () => string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs an ES module script in a new node process, ended with the test. */
export function runNode(script: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): NodeChild {
  const child = spawnTracked(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, lines: () => out.split('\n').filter(Boolean), stderr: () => err, exited };
}
