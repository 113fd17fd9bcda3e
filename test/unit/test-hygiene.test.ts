// Every process a test starts and every temp folder it makes goes through test/helpers/cli.ts, whose hooks end
// and remove them after the test, also when it fails. A file that imports the raw means (spawn, execFile, fork,
// exec, mkdtemp) or starts a tmux server itself would bypass that scope; this guards against the next one.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const TEST = path.resolve(import.meta.dirname, '..');
const HELPER = 'helpers/cli.ts';
/** Synchronous calls end before the test goes on: nothing of them can outlive it. */
const FORBIDDEN = new Set(['spawn', 'exec', 'execFile', 'fork', 'mkdtemp', 'mkdtempSync']);
const MODULES = /^(node:)?(child_process|fs|fs\/promises)$/;

/** The names a TypeScript source imports from child_process and fs that would bypass the scoped helper. */
export function bypasses(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^import\s+([^;]*?)\s+from\s+'([^']+)'/gms)) {
    const [, clause, module] = m as unknown as [string, string, string];
    if (!MODULES.test(module)) continue;
    const named = /\{([^}]*)\}/.exec(clause)?.[1];
    // A default or namespace import reaches every function of the module.
    if (/^(\*\s+as\s+\w+|\w+)\s*(,|$)/.test(clause.trim())) found.push(`${clause.trim()} from '${module}'`);
    for (const spec of named?.split(',') ?? []) {
      const name = spec.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
      if (FORBIDDEN.has(name) && !spec.trim().startsWith('type ')) found.push(name);
    }
  }
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(TEST, path.join(e.parentPath, e.name)))
    .filter((rel) => !rel.startsWith('fixtures/'));
}

describe('test hygiene', () => {
  it.each([
    ["import { spawn, spawnSync } from 'node:child_process';", ['spawn']],
    ["import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';", []],
    ["import {\n  mkdirSync,\n  mkdtempSync,\n} from 'node:fs';", ['mkdtempSync']],
    ["import { mkdtemp } from 'fs/promises';", ['mkdtemp']],
    ["import cp from 'node:child_process';", ["cp from 'node:child_process'"]],
    ["import * as fs from 'node:fs';", ["* as fs from 'node:fs'"]],
    ["import { spawn } from './helpers.js';", []],
    ["const s = \"require('child_process').spawn(process.execPath)\";", []],
  ])('%s bypasses with %j', (source, names) => {
    expect(bypasses(source)).toEqual(names);
  });

  it('no test file spawns or makes temp folders outside test/helpers/cli.ts', () => {
    const offenders = sources(TEST)
      .filter((rel) => rel !== HELPER)
      .flatMap((rel) => bypasses(readFileSync(path.join(TEST, rel), 'utf8')).map((name) => `${rel}: ${name}`));
    expect(offenders, 'use tempDir / spawnTracked / execFileTracked of test/helpers/cli.ts').toEqual([]);
  });

  it('no test file starts a tmux server outside test/helpers/tmux.ts', () => {
    // The server daemonizes: no descendant of anything tracked, so only the helper's own tracking ends it.
    const command = ["'new", "session'"].join('-'); // Not spelled out, or this file would match itself.
    const offenders = sources(TEST).filter((rel) => rel !== 'helpers/tmux.ts' && readFileSync(path.join(TEST, rel), 'utf8').includes(command));
    expect(offenders, 'use Tmux of test/helpers/tmux.ts').toEqual([]);
  });
});
