// Node's own modules that only some paths use (node:http, node:https), loaded on first use. Required, not
// import()ed: in the bin's CommonJS bundle an import() of a package left outside it starts the ESM loader.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export function builtin<T>(name: `node:${string}`): T {
  return load(name) as T;
}
