// Real captures for the tests: a node process builds a known leak and writes them (see the fixture).
import type { ExecFileOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileTracked, tempDir as scopedTempDir } from '../helpers/cli.js';

export type Scenario = 'closures' | 'map' | 'listeners' | 'strings';

export interface Captures {
  dir: string;
  before: { profile: string; snapshot: string };
  after: { profile: string; snapshot: string };
}

const fixture = fileURLToPath(new URL('../fixtures/analysis/leaky.mjs', import.meta.url));
const exitAfter = fileURLToPath(new URL('../fixtures/analysis/exit-after.cjs', import.meta.url));
const run = (file: string, args: string[], opts: ExecFileOptions = {}) =>
  new Promise<void>((resolve, reject) => execFileTracked(file, args, opts, (err: Error | null) => (err ? reject(err) : resolve())));

/** Captures are made for a whole file (in its beforeAll) and removed after it. */
export const tempDir = (prefix = 'cfn-analysis-'): string => scopedTempDir(prefix, 'file');

export async function capture(scenario: Scenario, count = 40_000): Promise<Captures> {
  const dir = tempDir();
  await run(process.execPath, [fixture, scenario, dir, String(count)]);
  const files = (name: string) => ({ profile: path.join(dir, `${name}.heapprofile`), snapshot: path.join(dir, `${name}.heapsnapshot`) });
  return { dir, before: files('before'), after: files('after') };
}

/**
 * Runs `node --heap-prof <args>` and returns the profile node writes as it exits. A script that never ends
 * (the demo agent) is ended after `runMs` by a preload.
 */
export async function heapProf(args: string[], opts: { intervalBytes?: number; runMs?: number } = {}): Promise<string> {
  const dir = tempDir();
  const flags = [`--heap-prof`, `--heap-prof-dir=${dir}`];
  if (opts.intervalBytes !== undefined) flags.push(`--heap-prof-interval=${opts.intervalBytes}`);
  if (opts.runMs !== undefined) flags.push('--require', exitAfter);
  await run(process.execPath, [...flags, ...args], { env: { ...process.env, EXIT_AFTER_MS: String(opts.runMs ?? 0) }, timeout: 60_000 });
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.heapprofile'));
  if (!file) throw new Error(`node --heap-prof wrote no profile in ${dir}`);
  return path.join(dir, file);
}
