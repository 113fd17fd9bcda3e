// Issue 25, item 3, in a real memory cgroup: a child group under the test's own, with a limit far below the
// machine's, that the supervisor is started in. The defaults, `config` and `check` follow the group's limit, and
// a run the kernel's OOM killer ends is classified oom-kill with the tree's last readings. The reader's cases for
// both cgroup versions run everywhere on recorded trees (test/unit/cgroup.test.ts).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryCgroup } from '../src/platform/cgroup.js';
import { BIN, PORTABLE_BACKEND, fixture, readJsonl, runCli, spawnTracked, tempDir, waitFor } from './helpers/cli.js';

const LIMIT_MB = 384;

/** A child group with LIMIT_MB, or why there can be none here. */
function makeGroup(): { dir: string } | { skip: string } {
  const own = memoryCgroup();
  if (!own) return { skip: 'no memory cgroup is readable here' };
  // A v2 group's children need the memory controller enabled in its subtree_control, which a leaf cannot do.
  if (own.version === 2) return { skip: 'a child v2 group needs the memory controller delegated to this group' };
  const dir = path.join(own.dir, `cfn-test-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(LIMIT_MB << 20));
  } catch (err) {
    return { skip: `cannot create a child memory cgroup under ${own.dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  return { dir };
}

const group = makeGroup();
const skip = 'skip' in group ? group.skip : undefined;
if (skip) console.warn(`test/cgroup.test.ts skipped: ${skip}`);

afterAll(async () => {
  if (!('dir' in group)) return;
  // The group can go once the processes in it are gone: they are ended after each test.
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(group.dir);
      return;
    } catch {
      await sleep(100);
    }
  }
});

/** The installed command, started inside the group: the shell moves itself in, then becomes the command. */
async function runInGroup(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const procs = path.join((group as { dir: string }).dir, 'cgroup.procs');
  const child = spawnTracked('sh', ['-c', 'echo $$ > "$0" && exec "$@"', procs, BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

// Cgroups are Linux's: the portable backend stands for macOS, which has none.
describe.skipIf(skip || PORTABLE_BACKEND)(`a supervisor in a memory cgroup of ${LIMIT_MB} MB`, () => {
  it('derives its defaults from the limit, says where they came from, and checks against it', async () => {
    const cwd = tempDir();
    const config = await runInGroup(['config'], cwd);
    expect(config.code, config.stderr).toBe(0);
    expect(config.stdout).toMatch(new RegExp(`heap-limit\\s+${LIMIT_MB / 2}\\s+\\(default, 50% of cgroup memory.limit_in_bytes ${LIMIT_MB} MB\\)`));
    expect(config.stdout).toMatch(new RegExp(`tree-hard\\s+${Math.round(LIMIT_MB * 0.95)}\\s+\\(default, 95% of cgroup memory.limit_in_bytes ${LIMIT_MB} MB\\)`));
    const check = await runInGroup(['check', '--min-free', '0'], cwd);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`\\d+ MB available within cgroup memory.limit_in_bytes ${LIMIT_MB} MB`));
    const tooMuch = await runInGroup(['check', '--min-free', String(LIMIT_MB + 1)], cwd);
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toMatch(new RegExp(`--min-free \\(${LIMIT_MB + 1} MB\\) is above its cgroup's limit \\(cgroup memory.limit_in_bytes ${LIMIT_MB} MB\\)`));
  }, 60_000);

  it('a run the kernel OOM-kills is classified oom-kill, with the tree at its last reading', async () => {
    const cwd = tempDir();
    // No rule of ours may act first: the kernel's OOM killer is what this run meets.
    const rules = ['--warning', '100000', '--critical', '200000', '--hard', '300000', '--tree-warning', '100000', '--tree-critical', '200000', '--tree-hard', '0'];
    const go = path.join(cwd, 'go');
    const running = runInGroup(['--min-free', '0', '--interval', '200', '--restart', 'never', ...rules, '--', 'node', fixture('lifecycle/off-heap-growth.cjs'), go], cwd);
    // It grows (to the kill in ~2.4 s) only once the supervisor has read it: a loaded machine's first ticks can
    // come later than that, and the run record's last readings are what this test is about.
    await waitFor(async () => {
      const status = await runCli(['status', '--json'], { cwd });
      return status.code === 0 && (JSON.parse(status.stdout.toString()) as { processes: { role: string }[] }).processes.some((p) => p.role === 'agent');
    }, 30_000, 'the agent read by its supervisor');
    writeFileSync(go, '');
    const r = await running;
    expect(r.stdout).toMatch(/growing/);
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(new RegExp(`the kernel's OOM killer ended the agent \\(pid \\d+, SIGKILL\\) at cgroup memory.limit_in_bytes ${LIMIT_MB} MB`));
    const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(run).toMatchObject({ exit: { reason: 'oom-kill', signal: 'SIGKILL' }, aborted: false });
    const last = run!.last_readings as { pid: number; role: string; rss_mb: number }[];
    expect(last[0]).toMatchObject({ pid: run!.pid, role: 'agent' });
    expect(last[0]!.rss_mb).toBeGreaterThan(LIMIT_MB / 4);
  }, 60_000);

  it('a child the kernel OOM-kills while the agent lives on: notice, processes.jsonl, the run record', async () => {
    const cwd = tempDir();
    const rules = ['--warning', '100000', '--critical', '200000', '--hard', '300000', '--tree-warning', '100000', '--tree-critical', '200000', '--tree-hard', '0'];
    const r = await runInGroup(['--min-free', '0', '--interval', '200', '--restart', 'never', ...rules, '--', 'node', fixture('lifecycle/children-die.cjs'), 'off-heap'], cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/off-heap ended: SIGKILL/);
    expect(r.stderr).toMatch(new RegExp(`\\[oom-kill\\] node:off-heap-growth.cjs \\(pid \\d+\\) was killed by the kernel's OOM killer \\(SIGKILL, cgroup memory.limit_in_bytes ${LIMIT_MB} MB\\)`));
    const killed = readJsonl(path.join(cwd, '.cfn-supervise/processes.jsonl')).filter((p) => p.cause === 'oom-kill');
    expect(killed).toEqual([expect.objectContaining({ role: 'node:off-heap-growth.cjs', signal: 'SIGKILL' })]);
    const [run] = readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));
    expect(run).toMatchObject({ exit: { reason: 'clean', code: 0 }, members: { 'oom-kill': 1 } });
  }, 60_000);
});
