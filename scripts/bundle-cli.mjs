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

await build({
  entryPoints: [path.join(src, 'program.ts')],
  outfile: path.join(out, 'program.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // A stack needs the files' names and lines, not their text: a smaller map to read at start.
  sourcesContent: false,
  plugins: [ownUrls],
  logLevel: 'warning',
});
