// A project that runs its agent under cfn-supervise from its own checkout: the default state dir,
// .cfn-supervise/, stays out of `git status`, as the caches tools keep in a checkout do.
import { spawnSync } from 'node:child_process';
import { statSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const git = (cwd: string, ...args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8' });

it('keeps the default state dir out of git status, with a 0600 .gitignore made only with the folder', async () => {
  const project = tempDir('cfn-checkout-');
  expect(git(project, 'init', '-q').status).toBe(0);
  const run = await runCli(['--min-free', '0', '--', 'node', '-e', 'process.exit(0)'], { cwd: project });
  expect(run.stderr.toString()).toBe('');
  expect(run.code).toBe(0);
  const ignore = path.join(project, '.cfn-supervise', '.gitignore');
  expect(readFileSync(ignore, 'utf8')).toBe('*\n');
  expect(statSync(ignore).mode & 0o777).toBe(0o600);
  const status = git(project, 'status', '--porcelain', '--untracked-files=all');
  expect(status.stderr).toBe('');
  expect(status.stdout).toBe('');

  // A person who removed it meant to: an existing state dir is not given one again.
  rmSync(ignore);
  expect((await runCli(['--min-free', '0', '--', 'node', '-e', 'process.exit(0)'], { cwd: project })).code).toBe(0);
  expect(git(project, 'status', '--porcelain').stdout).toBe('?? .cfn-supervise/\n');
});
