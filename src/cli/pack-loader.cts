// Requires one of the bin's packs (scripts/bundle-cli.mjs) through V8's code cache written beside it at build time:
// the ~280 KB program pack is then not parsed before the agent's spawn (~10 ms on the 2-core VM, `perf stat`).
// Node 20 keeps no code cache for files a program requires (module.enableCompileCache is Node 22), hence this.
// A cache V8 rejects (another node, other flags) or that is missing costs nothing but the compile it would have
// spared. CommonJS, like main.cts, so that the bin never starts the ESM loader.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const MARK = '//# codeCache=';

/** The cache file the pack names in its last line, or undefined when it names none. */
function cacheOf(file: string, source: string): string | undefined {
  const at = source.lastIndexOf(MARK);
  return at < 0 ? undefined : join(dirname(file), source.slice(at + MARK.length).trim());
}

function run(file: string, script: Script): unknown {
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** How a pack was compiled: from its code cache, from source with the cache refused by V8, or with none. */
export type CacheUse = 'used' | 'rejected' | 'none';

/** The exports of the pack `file`, and whether its code cache served. */
export function loadPack(file: string): { exports: unknown; cache: CacheUse } {
  const source = readFileSync(file, 'utf8');
  const cache = cacheOf(file, source);
  let cachedData: Buffer | undefined;
  try {
    if (cache) cachedData = readFileSync(cache);
  } catch {
    // No cache: compiled from source.
  }
  const script = new Script(wrap(source), { filename: file, cachedData });
  return { exports: run(file, script), cache: !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used' };
}

/** Writes the cache the pack `file` names: what its top level compiles, as loadPack will ask for it. */
export function writeCodeCache(file: string): void {
  const source = readFileSync(file, 'utf8');
  const cache = cacheOf(file, source);
  if (!cache) throw new Error(`${file} names no code cache`);
  const script = new Script(wrap(source), { filename: file });
  run(file, script);
  writeFileSync(cache, script.createCachedData());
}
