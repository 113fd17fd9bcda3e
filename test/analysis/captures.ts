// Real captures for the tests: a node process builds a known leak and writes them (see the fixture).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export type Scenario = 'closures' | 'map' | 'listeners' | 'strings';

export interface Captures {
  dir: string;
  before: { profile: string; snapshot: string };
  after: { profile: string; snapshot: string };
}

const fixture = fileURLToPath(new URL('../fixtures/analysis/leaky.mjs', import.meta.url));
const exitAfter = fileURLToPath(new URL('../fixtures/analysis/exit-after.cjs', import.meta.url));
const run = promisify(execFile);
const made: string[] = [];

export function tempDir(prefix = 'cfn-analysis-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder `tempDir` made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

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
