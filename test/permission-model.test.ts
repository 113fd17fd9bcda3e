// Issue #23 item 5: an app under node's permission model runs under the supervisor exactly as bare; `status`
// says it is seen by RSS alone, and why.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { fixture, runCli, spawnTracked, startCli, tempDir, waitFor } from './helpers/cli.js';

const PERMISSION_FLAG = Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';

interface Proc {
  pid: number;
  role: string;
  instrumented?: string;
  instrumented_why?: string;
}

/** The processes `status --json` shows; none while the supervisor is not answering yet. */
async function status(cwd: string): Promise<Proc[]> {
  const r = await runCli(['status', '--json'], { cwd });
  return r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: Proc[] }).processes : [];
}

/** The app in a folder of its own, allowed to read that folder alone. */
function app(): { dir: string; argv: string[]; stop: () => void } {
  const dir = tempDir();
  copyFileSync(fixture('permission/app.cjs'), path.join(dir, 'app.cjs'));
  return { dir, argv: ['node', PERMISSION_FLAG, `--allow-fs-read=${dir}`, path.join(dir, 'app.cjs')], stop: () => writeFileSync(path.join(dir, 'stop'), '') };
}

// Node names its own pid in its warnings.
const samePids = (text: string) => text.replace(/\(node:\d+\)/g, '(node:PID)');

it('runs an app under the permission model as bare: same output and exit code, seen by RSS alone', async () => {
  const bare = app();
  const child = spawnTracked(bare.argv[0]!, bare.argv.slice(1), { cwd: bare.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let bareOut = '';
  let bareErr = '';
  child.stdout.on('data', (d: Buffer) => (bareOut += d.toString()));
  child.stderr.on('data', (d: Buffer) => (bareErr += d.toString()));
  await waitFor(() => bareOut.includes('permission'), 20_000, 'the bare app to start');
  bare.stop();
  const bareCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(bareOut).toBe('permission true\nstopping\n');

  const supervised = app();
  const s = startCli(['--min-free', '0', '--restart', 'never', '--', ...supervised.argv], { cwd: supervised.dir });
  await waitFor(() => s.stdout().toString().includes('permission'), 20_000, 'the supervised app to start');
  const agent = await waitFor(async () => (await status(supervised.dir)).find((p) => p.role === 'agent'), 20_000, 'the agent in status');
  expect(agent).toMatchObject({ instrumented: 'rss-only', instrumented_why: 'permission model' });
  expect((await runCli(['status'], { cwd: supervised.dir })).stdout.toString()).toMatch(/rss-only \(permission model\)/);
  supervised.stop();
  const { code } = await s.exited;
  expect(code).toBe(bareCode);
  expect(s.stdout().toString()).toBe(bareOut);
  expect(samePids(s.stderr().toString())).toContain(samePids(bareErr));
});
