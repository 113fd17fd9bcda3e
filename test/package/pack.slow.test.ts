// Issue 16, installable package: `npm pack` of a checkout without dist (prepack builds it), installed into a
// fresh project offline, then `npx cfn-supervise` from there supervises a real agent whose probe registers.
// A fresh machine's npm cache holds only the tarballs `npm ci` put there, not the registry metadata a plain
// `npm install <tarball>` resolves versions against: the project gets a lockfile pinning the tarball and the
// versions this checkout's lockfile pins (as a project with its own lockfile would), `npm ci --offline`
// installs from the cache, and `npm ls --all` checks that the tarball's declared dependencies are met. The checkout is a copy of this working tree, so that
// prepack's fresh build never touches the dist other tests run from. The project's folder has a space in its
// name: the probe's path in NODE_OPTIONS must survive it.
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, readJsonl, tempDir } from '../helpers/cli.js';
import { start } from '../inspector-port/helpers.js';

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
// Not part of a checkout (or made by running it here): the copy gets the project's node_modules as a link.
const NOT_CHECKED_OUT = new Set(['node_modules', 'dist', '.git', '.cfn-supervise']);
const AGENT = path.join(ROOT, 'test/package/installed-agent.cjs');

interface LockEntry { dev?: boolean; [field: string]: unknown }

/** A project depending on the tarball alone, with a lockfile: the tarball, then every non-dev entry of ours. */
interface Manifest { version: string; dependencies: Record<string, string>; bin: Record<string, string> }

function writeProject(project: string, tarball: string, manifest: Manifest): void {
  const ours = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'agents', dependencies: { 'cfn-supervise': spec } },
    'node_modules/cfn-supervise': {
      version: manifest.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
    },
  };
  for (const [where, entry] of Object.entries(ours.packages)) if (where !== '' && !entry.dev) packages[where] = entry;
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'agents', private: true, dependencies: { 'cfn-supervise': spec } }));
  writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ name: 'agents', lockfileVersion: 3, requires: true, packages }));
}

/** A shell's environment: nothing of the npm or supervisor this test may itself run under. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|CFN_SUPERVISE_|NODE_OPTIONS$)/i.test(k)));
  return { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
}

async function run(cmd: string, args: string[], cwd: string) {
  const p = start(cmd, args, { cwd, env: cleanEnv() });
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${p.stderr()}`);
  return p.stdout();
}

function sizeOf(file: string): number {
  const stat = lstatSync(file);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(file).reduce((sum, name) => sum + sizeOf(path.join(file, name)), 0);
}

const kB = (bytes: number) => `${(bytes / 1024).toFixed(0)} kB`;

it('packs into a tarball that installs into a clean project and supervises an agent from there', async () => {
  const checkout = tempDir('cfn-pack-checkout-');
  cpSync(ROOT, checkout, { recursive: true, filter: (src) => !NOT_CHECKED_OUT.has(path.relative(ROOT, src).split(path.sep)[0]!) });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
  const out = tempDir('cfn-pack-out-');
  await run('npm', ['pack', '--pack-destination', out], checkout);
  const tarball = path.join(out, `cfn-supervise-${PACKAGE.version}.tgz`);

  const files = (await run('tar', ['tzf', tarball], out)).split('\n').filter(Boolean);
  for (const needed of ['bin/cfn-supervise', 'dist/cli/main.cjs', 'dist/cli/program.cjs', 'dist/cli/program.cjs.map', 'dist/index.js', 'dist/probe/probe.cjs', 'dist/platform/watchdog.sh', 'examples/docker/Dockerfile', 'README.md']) {
    expect(files).toContain(`package/${needed}`);
  }
  expect(files.filter((f) => /^package\/(src|test|benchmarks|scripts|node_modules)\/|\.map$/.test(f) && !/^package\/dist\/cli\/[\w-]+\.cjs\.map$/.test(f))).toEqual([]);

  const project = tempDir('cfn pack project-');
  writeProject(project, tarball, JSON.parse(await run('tar', ['xzfO', tarball, 'package/package.json'], out)) as Manifest);
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], project);
  await run('npm', ['ls', '--all', '--offline'], project);
  const installed = readdirSync(path.join(project, 'node_modules'));
  expect(installed).toContain('cfn-supervise');
  expect(installed.filter((name) => name in PACKAGE.devDependencies)).toEqual([]);

  expect((await run('npx', ['cfn-supervise', '--version'], project)).trim()).toBe(PACKAGE.version);

  const stdout = await run('npx', ['cfn-supervise', '--min-free', '0', '--', 'node', AGENT], project);
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { agent: string; nodeOptions: string; watchdog: string };
  const dist = path.join(project, 'node_modules/cfn-supervise/dist');
  expect(report.agent).toBe('ran');
  expect(report.nodeOptions).toContain(`--require="${path.join(dist, 'probe/probe.cjs')}"`);
  expect(report.watchdog).toBe(path.join(dist, 'platform/watchdog.sh'));
  const stateDir = path.join(project, '.cfn-supervise');
  const [agent] = readJsonl(path.join(stateDir, 'processes.jsonl'));
  expect(agent).toMatchObject({ role: 'agent', argv: ['node', AGENT] });
  const log = readJsonl(path.join(stateDir, 'supervisor.log'));
  expect(log.filter((l) => l.msg === 'node process registered').map((l) => l.pid)).toEqual([agent!.pid]);
  expect(log.filter((l) => l.level !== 'info')).toEqual([]);
  expect(readJsonl(path.join(stateDir, 'runs.jsonl')).map((r) => r.exit)).toEqual([expect.objectContaining({ code: 0, reason: 'clean' })]);

  // The programmatic entry point resolves from the installed package too.
  const api = await run(process.execPath, ['--input-type=module', '-e', "console.log(typeof (await import('cfn-supervise')).supervise)"], project);
  expect(api.trim()).toBe('function');

  console.info(
    `cfn-supervise ${PACKAGE.version}: tarball ${kB(statSync(tarball).size)} (${files.length} files), installed ${kB(sizeOf(path.join(project, 'node_modules/cfn-supervise')))}, with its dependencies ${kB(sizeOf(path.join(project, 'node_modules')))}`,
  );
});
