#!/usr/bin/env node
// The bin, in CommonJS: `--version` alone is answered before the ESM loader, the option parser and the
// configuration are loaded (the loader alone is ~10 ms of a 40 ms `node -e 0` here). It reads package.json
// itself, since the ESM code's common/version.ts cannot be required. Everything else is the program's, which the
// first import() loads.
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
  try {
    writeSync(1, `${version}\n`);
  } catch {
    // A reader that went away (`| true`) is not an error for a version query.
  }
} else {
  void import('./program.js').then((program) => program.run(argv));
}
