#!/usr/bin/env node
// The bin, in CommonJS. Short commands are answered before anything else is read: `--version` here (it reads
// package.json itself, since the ESM code's common/version.ts cannot be required), `status`, `restart` and `top` by
// the quick path's pack. Everything else is the program's pack. Both packs are built from the ESM modules by
// scripts/bundle-cli.mjs: one file each, and no ESM loader (~10 ms of a 40 ms `node -e 0` here).
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadPack } from './pack-loader.cjs';

interface Quick {
  runQuick(argv: string[]): boolean;
}
interface Program {
  run(argv: string[]): void;
}

const argv = process.argv.slice(2);
// A first look only, to spare the other commands a read of the quick pack: quick-args.ts decides what it takes.
const QUICK = ['status', 'restart', 'top'];
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
  try {
    writeSync(1, `${version}\n`);
  } catch {
    // A reader that went away (`| true`) is not an error for a version query.
  }
} else if (!(argv.some((a) => QUICK.includes(a)) && (loadPack(join(__dirname, 'quick.cjs')).exports as Quick).runQuick(argv))) {
  (loadPack(join(__dirname, 'program.cjs')).exports as Program).run(argv);
}
