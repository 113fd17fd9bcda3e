// A bug's stack as a person can read it: each frame in a built file that has its source map beside it (the bin's
// bundles, dist/cli/*.cjs) named by the .ts file and line it came from. Read only when a bug is printed: node's
// own source maps (process.setSourceMapsEnabled) cost ~30 ms at every start of the bin on the 2-core VM, and
// enabled late they do not apply to what was loaded before (Node 20).
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';

const FRAME = /(\/[^\s():]+\.c?js):(\d+):(\d+)/g;

/** `stack` with each `file:line:column` that `mapOf(file)` maps given as the source's. */
export function sourceStack(stack: string, mapOf: (file: string) => SourceMap | undefined): string {
  return stack.replace(FRAME, (frame, file: string, line: string, column: string) => {
    const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return frame;
    const source = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : path.resolve(path.dirname(file), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/** The source map beside `file` (`<file>.map`), when there is one. */
function mapBeside(file: string): SourceMap | undefined {
  try {
    return new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return undefined;
  }
}

/** The stack of `err` with source file names where the maps are there; its text when it has none. */
export function readableStack(err: unknown): string {
  const stack = err instanceof Error ? err.stack : undefined;
  if (!stack) return String(err);
  const maps = new Map<string, SourceMap | undefined>();
  return sourceStack(stack, (file) => (maps.has(file) ? maps.get(file) : maps.set(file, mapBeside(file)).get(file)));
}
