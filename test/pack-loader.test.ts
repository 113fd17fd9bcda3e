// The bin's packs load through V8's code cache made at build time (src/cli/pack-loader.cts), and without it exactly as
// with it: when the cache is missing, refused by V8, or from another build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/cli.js';

const LOADER = JSON.stringify(path.join(ROOT, 'dist/cli/pack-loader.cjs'));
const CLI = path.join(ROOT, 'dist/cli');

/**
 * Runs `script` with the loader as `loader` in a node of its own, without flags: V8 reuses what it compiled from the
 * same source within a process, cache or not, and refuses a cache made under other flags.
 */
function inNode(script: string): string {
  const r = spawnSync(process.execPath, ['-e', `const loader = require(${LOADER}); ${script}`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

it('loads the packs of the build from their code caches', () => {
  for (const pack of ['program.cjs', 'quick.cjs']) {
    expect(inNode(`const r = loader.loadPack(${JSON.stringify(path.join(CLI, pack))}); console.log(r.cache, Object.keys(r.exports).length)`)).toMatch(/^used [1-9]/);
  }
});

it('compiles a pack from source when its cache is missing, refused or names another build', () => {
  const dir = tempDir();
  const pack = path.join(dir, 'p.cjs');
  const body = (n: number) => `exports.answer = () => ${n};\n//# codeCache=p.cjs.1.cache\n`;
  writeFileSync(pack, body(41));
  const answer = () => JSON.parse(inNode(`const r = loader.loadPack(${JSON.stringify(pack)}); console.log(JSON.stringify([r.exports.answer(), r.cache]))`)) as unknown;
  const writeCache = () => inNode(`loader.writeCodeCache(${JSON.stringify(pack)})`);
  expect(answer()).toEqual([41, 'none']);
  writeCache();
  expect(answer()).toEqual([41, 'used']);
  writeFileSync(path.join(dir, 'p.cjs.1.cache'), Buffer.from('not a code cache'));
  expect(answer()).toEqual([41, 'rejected']);
  // A rebuilt pack names its own cache: the old one beside it is never read.
  writeCache();
  writeFileSync(pack, body(42).replace('p.cjs.1.cache', 'p.cjs.2.cache'));
  expect(answer()).toEqual([42, 'none']);
  writeFileSync(pack, 'exports.answer = () => 43;\n');
  expect(answer()).toEqual([43, 'none']);
});

it('answers a command from a pack with no cache beside it', () => {
  const copy = path.join(tempDir(), 'cli');
  mkdirSync(copy);
  for (const name of readdirSync(CLI)) if (name.endsWith('.cjs')) copyFileSync(path.join(CLI, name), path.join(copy, name));
  const r = spawnSync(process.execPath, [path.join(copy, 'main.cjs'), 'status', '--state-dir', path.join(copy, 'none')], { encoding: 'utf8' });
  expect([r.status, r.stderr.trim()]).toEqual([3, `cfn-supervise: no supervisor is running in ${path.join(copy, 'none')}`]);
});
