// Node's own modules that only some paths use (node:http, node:https, node:tls), loaded on first use. Required,
// not import()ed: in the bin's packs an import() would start the ESM loader, and inside a vm.Script (how the packs
// are compiled with their code cache, cli/pack-loader.cts) it has no loader at all.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export function builtin<T>(name: `node:${string}`): T {
  return load(name) as T;
}
