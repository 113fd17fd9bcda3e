#!/usr/bin/env node
// The bin, in CommonJS: `--version` is answered here (it reads package.json itself, since the ESM code's
// common/version.ts cannot be required), everything else by the program's bundle, dist/cli/program.cjs
// (scripts/bundle-cli.mjs): one file, and no ESM loader. Where node has a compile cache (Node >= 22.1), the bundle
// is compiled from it after the first run.
import { readFileSync, writeSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';

interface Program {
  run(argv: string[]): void;
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
  try {
    writeSync(1, `${version}\n`);
  } catch {
    // A reader that went away (`| true`) is not an error for a version query.
  }
} else {
  // Not in @types/node 20, which this package builds against.
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- only here: --version never reads the bundle
  (require('./program.cjs') as Program).run(argv);
}
