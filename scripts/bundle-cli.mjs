// Bundles the bin's program into one CommonJS file, dist/cli/program.cjs, from the TypeScript sources: a command
// then reads one file and starts no ESM loader, where resolving and loading the ~60 ES modules of dist was most of
// a short command's own time and a good part of what comes before the agent's spawn (benchmarks/startup.mjs).
// Readable (not minified), with a source map beside it, so that a bug's stack names the .ts files and lines.
// Packages stay where npm put them; dist keeps the modules for the library and the analysis worker.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src/cli');
const out = path.join(root, 'dist/cli');

// A module finds its files (the probe, the watchdog script, package.json, the worker, packages through
// createRequire) from import.meta.url: in the bundle it stays the URL of the module's own file in dist.
const ownUrls = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const relative = path.relative(src, args.path).split(path.sep).join('/').replace(/\.ts$/, '.js');
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(relative)})).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

// Each module the program import()s (a subcommand's, the supervisor's start) is a bundle of its own, required only
// when its command runs: `status` does not parse the supervisor's code, nor a supervisor start the analysis's. What
// they share is in each (an error class too: output.ts reads a failure's exit code, not its class).
const program = path.join(src, 'program.ts');
const APART = [...(await readFile(program, 'utf8')).matchAll(/import\('\.\/([\w-]+)\.js'\)/g)].map((m) => m[1]);
const apart = {
  name: 'apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) =>
      args.kind === 'dynamic-import' && args.importer === program ? { path: args.path.replace(/\.js$/, '.cjs'), external: true } : undefined,
    );
  },
};

for (const name of ['program', ...new Set(APART)]) await build({
  entryPoints: [path.join(src, `${name}.ts`)],
  outfile: path.join(out, `${name}.cjs`),
  bundle: true,
  // import() of what is apart as require(): an import() would start the ESM loader.
  supported: { 'dynamic-import': false },
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // A stack needs the files' names and lines, not their text: a smaller map to read at start.
  sourcesContent: false,
  plugins: [ownUrls, ...(name === 'program' ? [apart] : [])],
  logLevel: 'warning',
});
