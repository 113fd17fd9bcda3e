// The examples' command lines run against cfn-supervise installed as npm installs it, and against its demo agent.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { ROOT, waitFor } from '../helpers/cli.js';
import { start } from '../inspector-port/helpers.js';

/**
 * `dir/node_modules/cfn-supervise` (this checkout) and a `node_modules/.bin` link for each bin of package.json,
 * as `npm install cfn-supervise` makes them; returns the bin folder.
 */
export function installInto(dir: string): string {
  const { bin } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '.bin'), { recursive: true });
  symlinkSync(ROOT, path.join(modules, 'cfn-supervise'));
  for (const [name, target] of Object.entries(bin)) symlinkSync(path.join('..', 'cfn-supervise', target), path.join(modules, '.bin', name));
  return path.join(modules, '.bin');
}

/**
 * Runs an example's command line until the demo agent it starts reports under the supervisor, then stops it as
 * systemd and `docker stop` do (SIGTERM): it ends cleanly, or of that SIGTERM (systemd's clean signals, and
 * the unit's SuccessExitStatus=143).
 */
export async function runsTheDemoAgent(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
  const p = start(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env });
  await waitFor(() => /^leaky-agent pid \d+: /m.test(p.stdout()) || p.child.exitCode !== null, 30_000, 'the demo agent');
  expect(p.stderr()).not.toMatch(/not found|cannot|error/i);
  expect(p.stdout()).toMatch(/^leaky-agent pid \d+: /m);
  p.child.kill('SIGTERM');
  const { code, signal } = await p.exited;
  expect(code === 0 || code === 143 || signal === 'SIGTERM', `exit ${code} ${signal}: ${p.stderr()}`).toBe(true);
}
