// Packs the bin's two paths into one CommonJS file each, from tsc's output: dist/cli/quick.cjs (status, restart,
// top) and dist/cli/program.cjs (everything else, the supervisor included). A command then reads one file and
// starts no ESM loader: resolving and loading ~20-60 ES modules was most of a short command's own time and a good
// part of what comes before the agent's spawn. Packages stay where npm put them; the modules stay in dist for the
// library and the analysis worker.
//
// Beside each pack goes V8's code cache of it, made by this node with no flags, so that the bin does not parse
// ~280 KB before the agent's spawn (cli/main.cts). Its name, with a random build id, is the pack's last line:
// a pack rebuilt without its cache finds none, never a stale one.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli');

// A module finds its files (the probe, the watchdog script, package.json, the worker, packages through
// createRequire) from import.meta.url: in a pack it stays the URL of the module's own file in dist.
const ownUrls = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const relative = path.relative(cli, args.path).split(path.sep).join('/');
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(relative)})).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};

for (const name of readdirSync(cli)) if (name.endsWith('.cache')) rmSync(path.join(cli, name));

for (const [entry, pack] of [['quick.js', 'quick.cjs'], ['program.js', 'program.cjs']]) {
  const cache = `${pack}.${randomBytes(6).toString('hex')}.cache`;
  await build({
    entryPoints: [path.join(cli, entry)],
    outfile: path.join(cli, pack),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    // Whitespace and syntax only: names stay readable in a stack trace.
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [ownUrls],
    footer: { js: `//# codeCache=${cache}` },
    logLevel: 'warning',
  });
  // The cache is made the way the bin loads the pack (its top level run, so what that compiled is in it), by a
  // node without NODE_OPTIONS: V8 rejects a cache made under other flags.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const [loader, file] = [path.join(cli, 'pack-loader.cjs'), path.join(cli, pack)].map((f) => JSON.stringify(f));
  execFileSync(process.execPath, ['-e', `require(${loader}).writeCodeCache(${file})`], { env, stdio: 'inherit' });
}
