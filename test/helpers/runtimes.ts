// The runtimes agents are tested on besides the node running the tests, installed by scripts/test-deps.sh from
// the npm registry into scripts/runtimes (each the linux-x64 build package: no install script to run).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';

const installed = (...parts: string[]) => path.join(ROOT, 'scripts/runtimes/node_modules', ...parts);

/** Official Node binaries by major version. */
export const NODES = {
  22: installed('node22/bin/node'),
  24: installed('node24/bin/node'),
  26: installed('node26/bin/node'),
} as const;

/** Bun, and Claude Code: a Bun executable. */
export const BUN = installed('@oven/bun-linux-x64/bin/bun');
export const CLAUDE = installed('@anthropic-ai/claude-code-linux-x64/claude');

/** Throws the install command when a runtime is missing, so a test fails with what to do rather than ENOENT. */
export function runtime(file: string): string {
  if (!existsSync(file)) throw new Error(`${file} is missing: run bash scripts/test-deps.sh`);
  return file;
}
