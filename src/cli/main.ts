#!/usr/bin/env node
// The bin. `--version` alone is answered before the option parser and the configuration are loaded: they are
// most of what a short command costs beyond node's own start. Everything else is the program's.
import { writeSync } from 'node:fs';
import { VERSION } from '../common/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  try {
    writeSync(1, `${VERSION}\n`);
  } catch {
    // A reader that went away (`| true`) is not an error for a version query.
  }
} else {
  (await import('./program.js')).run(argv);
}
