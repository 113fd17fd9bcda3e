// Real captures for the tests: a node process builds a known leak and writes them (see the fixture).
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export type Scenario = 'closures' | 'map' | 'listeners';

export interface Captures {
  dir: string;
  before: { profile: string; snapshot: string };
  after: { profile: string; snapshot: string };
}

const fixture = fileURLToPath(new URL('../fixtures/analysis/leaky.mjs', import.meta.url));
const run = promisify(execFile);

export function tempDir(prefix = 'cfn-analysis-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export async function capture(scenario: Scenario, count = 40_000): Promise<Captures> {
  const dir = tempDir();
  await run(process.execPath, [fixture, scenario, dir, String(count)]);
  const files = (name: string) => ({ profile: path.join(dir, `${name}.heapprofile`), snapshot: path.join(dir, `${name}.heapsnapshot`) });
  return { dir, before: files('before'), after: files('after') };
}
