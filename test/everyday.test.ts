// Issue 10's first-hour defects that are not about the terminal, each through the real CLI and real agents.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, fixture, freePort, readJsonl, runCli, startCli, tempDir, waitFor } from './helpers/cli.js';

const FAST = ['--min-free', '0', '--backoff', '10'];
const state = (cwd: string, file: string) => path.join(cwd, '.cfn-supervise', file);

describe('options apply wherever they are written, with one name and their units', () => {
  it('before a subcommand: --state-dir, --config, and supervisor options for config; refused where they mean nothing', async () => {
    const cwd = tempDir();
    const other = path.join(cwd, 'other');
    writeFileSync(path.join(cwd, 'f.yaml'), 'heap-limit: 777\ncaptures-max: 123\ncooldown: 5m\n');
    const status = await runCli(['--state-dir', other, 'status'], { cwd });
    expect(status).toMatchObject({ code: 3 });
    expect(status.stderr.toString()).toBe(`cfn-supervise: no supervisor is running in ${other}\n`);
    const fromFlag = JSON.parse((await runCli(['--heap-limit', '300', '--cooldown', '300', 'config', '--json'], { cwd })).stdout.toString());
    expect(fromFlag).toMatchObject({ 'heap-limit': 300, cooldown: 300 });
    const fromFile = JSON.parse((await runCli(['--config', 'f.yaml', 'config', '--json'], { cwd })).stdout.toString());
    expect(fromFile).toMatchObject({ 'heap-limit': 777, 'captures-max': 123, cooldown: 300 });
    // Where each value came from, as `config` shows it.
    expect(fromFlag.sources).toMatchObject({ 'heap-limit': { source: 'flag' }, 'captures-max': { source: 'default' } });
    expect(fromFile.sources).toMatchObject({ 'heap-limit': { source: 'file', from: 'f.yaml' }, cooldown: { source: 'file', from: 'f.yaml' }, interval: { source: 'default' } });
    const refused = await runCli(['--heap-limit', '300', 'status'], { cwd });
    expect(refused.code).toBe(2);
    expect(refused.stderr.toString()).toBe("cfn-supervise: --heap-limit does not apply to 'status'\n");
  });

  it("reads the seeds' variables with the seeds' meanings", async () => {
    const cwd = tempDir();
    const env = { CLAUDE_PM_MEMORY_CHECK_INTERVAL: '2', CLAUDE_MEMORY_ALERT_THRESHOLD: '6144', CLAUDE_PM_DISABLE_MEMORY_MONITOR: 'true', CLAUDE_MEMORY_DEBUG: 'true' };
    const r = await runCli(['config', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ interval: 2000, 'tree-warning': 6144, watch: false, 'log-level': 'debug' });
  });

  it("keeps the heap limit the user's NODE_OPTIONS sets, and config says where it came from", async () => {
    const cwd = tempDir();
    const env = { NODE_OPTIONS: '--max-old-space-size=8192' };
    const r = await runCli([...FAST, '--no-probe', '--', 'node', fixture('lifecycle/env.cjs')], { cwd, env });
    expect((JSON.parse(r.stdout.toString()) as { heapLimitMb: number }).heapLimitMb).toBeGreaterThanOrEqual(8192);
    expect((await runCli(['config'], { cwd, env })).stdout.toString()).toMatch(/^heap-limit\s+8192\s+\(env, NODE_OPTIONS\)$/m);
    const json = JSON.parse((await runCli(['config', '--json'], { cwd, env })).stdout.toString()) as { sources: Record<string, unknown> };
    expect(json.sources['heap-limit']).toEqual({ source: 'env', from: 'NODE_OPTIONS' });
  });
});

describe('first contact', () => {
  const cases: [string[], RegExp][] = [
    [['node', 'app.js'], /^cfn-supervise: unknown subcommand 'node'; to supervise a command, put -- before it: cfn-supervise \[options\] -- node app\.js$/],
    [['stauts'], /^cfn-supervise: unknown subcommand 'stauts'; did you mean 'status'\?$/],
    [['--quiet', 'top', 'x'], /too many arguments|unexpected/],
    [['--quiet=1', '--', 'node', 'app.js'], /^cfn-supervise: unknown option '--quiet=1' \(did you mean --quiet\?\)$/],
    [['--heap-limt', '512', '--', 'node', 'app.js'], /^cfn-supervise: unknown option '--heap-limt' \(did you mean --heap-limit\?\)$/],
    [['--quiet', '512', '--', 'node', 'app.js'], /^cfn-supervise: unexpected '512' before --/],
  ];
  it.each(cases)('%j says what was meant in one line, exit 2', async (args, message) => {
    const r = await runCli(args, { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr.toString().trim().split('\n')).toHaveLength(1);
    expect(r.stderr.toString().trim()).toMatch(message);
  });

  it('an unknown CFN_SUPERVISE_BACKEND is refused in one line, exit 2, before the agent starts', async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--', 'node', '-e', "require('fs').writeFileSync('ran', '')"], { cwd, env: { CFN_SUPERVISE_BACKEND: 'bsd' } });
    expect(r.code).toBe(2);
    expect(r.stderr.toString()).toBe('cfn-supervise: CFN_SUPERVISE_BACKEND must be linux or portable, not bsd\n');
    expect(existsSync(path.join(cwd, 'ran'))).toBe(false);
  });

  it('--version and -V print the package version, also into a reader that has gone, exit 0', async () => {
    const cwd = tempDir();
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await runCli([flag], { cwd })).toMatchObject({ code: 0, stdout: Buffer.from(`${version}\n`) });
    const closed = spawnSync('sh', ['-c', `node ${CLI} --version | true`], { encoding: 'utf8' });
    expect(closed).toMatchObject({ status: 0, stderr: '' });
  });

  it('help <subcommand> and <subcommand> --help show that subcommand alone; the root help shows defaults', async () => {
    const cwd = tempDir();
    const help = (await runCli(['help', 'status'], { cwd })).stdout.toString();
    expect(help).toMatch(/^Usage: cfn-supervise status/);
    expect(help).not.toMatch(/--backoff/);
    expect(help.split('\n').length).toBeLessThan(15);
    expect((await runCli(['analyze', '--help'], { cwd })).stdout.toString()).not.toMatch(/--backoff/);
    const root = (await runCli(['--help'], { cwd })).stdout.toString().replace(/\s+/g, ' ');
    expect(root).toMatch(/--heap-limit <MB> .*\(default: the one in your NODE_OPTIONS, else 4096\)/);
    expect(root).toMatch(/--cooldown <s> .*\(default: 300\)/);
  });
});

describe('runs are recorded as they happened', () => {
  it('a run whose child a memory rule ended is a limit run, also behind sh -c', async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--no-probe', '--interval', '200', '--restart', 'never', '--warning', '100', '--critical', '200', '--hard', '300', '--', 'sh', '-c', `node ${fixture('watch/buffers.cjs')}`], { cwd });
    expect(r.stderr.toString()).toMatch(/\[hard\] node:buffers\.cjs/);
    const [run] = readJsonl(state(cwd, 'runs.jsonl'));
    expect(run!.exit).toMatchObject({ reason: 'limit', why: expect.stringMatching(/rss over 300 MB/) });
    const processes = readJsonl(state(cwd, 'processes.jsonl'));
    expect(processes).toContainEqual(expect.objectContaining({ role: 'node:buffers.cjs', ended: 'terminated', peak_rss_mb: expect.any(Number) }));
  });

  it("a fast restart does not claim the previous run's fatal-error report; log lines carry pid once", async () => {
    const cwd = tempDir();
    await runCli([...FAST, '--heap-limit', '64', '--max-restarts', '1', '--', 'node', fixture('lifecycle/oom.cjs')], { cwd });
    const runs = readJsonl(state(cwd, 'runs.jsonl'));
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      const reports = run.reports as string[];
      expect(reports).toHaveLength(1);
      expect(JSON.parse(readFileSync(reports[0]!, 'utf8')).header.processId).toBe(run.pid);
    }
    for (const line of readFileSync(state(cwd, 'supervisor.log'), 'utf8').split('\n').filter(Boolean)) {
      expect(line.match(/"pid":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    }
  });

  // The double fork's orphan: the linux backend's subreaper brings it back, the portable backend finds its mark.
  it('names what it ends of a run that left processes behind', async () => {
    const cwd = tempDir();
    const pidFile = path.join(cwd, 'orphan');
    const r = await runCli([...FAST, '--no-probe', '--restart', 'never', '--', 'node', fixture('lifecycle/double-fork.cjs'), pidFile, '600000', '0'], { cwd });
    const orphan = Number(readFileSync(pidFile, 'utf8'));
    expect(r.stderr.toString()).toMatch(new RegExp(`the agent left 1 process running; ending ${orphan} \\(.*node.*\\)`));
    expect(readFileSync(state(cwd, 'supervisor.log'), 'utf8')).toMatch(new RegExp(`"pid":${orphan}.*ending what the run left behind`));
  });
});

describe('per-role thresholds', () => {
  it("status --json shows each process's own thresholds, from the config file's roles", async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'roles.yaml'), 'roles:\n  "node:-e":\n    warning: 100\n    critical: 200\n    hard: 300\n');
    const child = `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' }); setInterval(() => {}, 1000)`;
    const s = startCli([...FAST, '--config', 'roles.yaml', '--interval', '200', '--', 'node', '-e', child], { cwd });
    const processes = await waitFor(async () => {
      const r = await runCli(['status', '--json'], { cwd });
      const procs = r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: { role: string; thresholds: Record<string, number> }[] }).processes : [];
      return procs.length >= 2 && procs;
    }, 20_000, 'two processes');
    expect(processes.find((p) => p.role === 'agent')!.thresholds).toMatchObject({ warningMb: 1024, hardMb: 4096 });
    expect(processes.find((p) => p.role === 'node:-e')!.thresholds).toMatchObject({ warningMb: 100, criticalMb: 200, hardMb: 300 });
    s.child.kill('SIGTERM');
    await s.exited;
  });
});

describe('nested use', () => {
  it('a supervisor started inside a supervised tree in the same folder gets a state dir of its own', async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--', process.execPath, path.join(import.meta.dirname, '../dist/cli/main.cjs'), ...FAST, '--', 'node', '-e', 'console.log("inner ran")'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('inner ran\n');
    expect(readJsonl(state(cwd, 'runs.jsonl'))).toHaveLength(1);
    const nested = readdirSync(state(cwd, 'nested'));
    expect(nested).toHaveLength(1);
    expect(readJsonl(state(cwd, `nested/${nested[0]}/runs.jsonl`))).toEqual([expect.objectContaining({ exit: expect.objectContaining({ reason: 'clean' }) })]);
  });
});

describe('the headline command', () => {
  /** A project with an agent CLI installed locally: what `npx <agent>` runs. */
  function project(): string {
    const dir = tempDir('cfn-headline-');
    mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
    symlinkSync(fixture('probe/tree'), path.join(dir, 'node_modules/cfn-probe-tree'));
    symlinkSync('../cfn-probe-tree/bin.js', path.join(dir, 'node_modules/.bin/cfn-probe-tree'));
    return dir;
  }

  it('supervises a locally installed agent through npx, seeing its node processes', async () => {
    const cwd = project();
    const s = startCli([...FAST, '--interval', '200', '--', 'npx', '--offline', 'cfn-probe-tree'], { cwd });
    await waitFor(() => existsSync(state(cwd, 'ledger')) && readFileSync(state(cwd, 'ledger'), 'utf8').split('\n').filter((l) => l.startsWith('pid ')).length >= 4, 30_000, 'the npx tree');
    // npx, sh, node, sh are four: the grandchild, last, is there once its probe registered.
    const registered = () => existsSync(state(cwd, 'supervisor.log')) && readFileSync(state(cwd, 'supervisor.log'), 'utf8').split('\n').some((l) => l.includes('node process registered') && l.includes('grandchild.js'));
    await waitFor(registered, 30_000, "the grandchild's registration");
    s.child.kill('SIGTERM');
    await s.exited;
    const roles = readJsonl(state(cwd, 'processes.jsonl')).map((p) => p.role);
    expect(roles).toEqual(expect.arrayContaining(['node:grandchild.js']));
  });

  it("an agent npx cannot find: npm's error once, npm's exit code, no retry", async () => {
    const cwd = project();
    const r = await runCli([...FAST, '--', 'npx', '--offline', '--no-install', 'claude-flow-novice-not-installed'], { cwd });
    expect(r.code).not.toBe(0);
    expect(readJsonl(state(cwd, 'runs.jsonl'))).toHaveLength(1);
    expect(r.stderr.toString()).not.toMatch(/restarting/);
    expect(r.stderr.toString().match(/npm (ERR|error)/g)?.length ?? 0).toBeGreaterThan(0);
  });
});

describe('health for Kubernetes probes', () => {
  it('answers /healthz and /readyz on the metrics port: ready once the agent runs and registered', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const s = startCli([...FAST, '--interval', '200', '--metrics-port', String(port), '--', 'node', '-e', 'setInterval(() => {}, 1000)'], { cwd });
    const get = async (route: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${route}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const ready = await waitFor(async () => {
      const r = await get('/readyz');
      return r.status === 200 && r;
    }, 20_000, 'readiness');
    expect(ready.body).toMatchObject({ ok: true, phase: 'running', registered: 1 });
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { ok: true, phase: 'running' } });
    s.child.kill('SIGTERM');
    await s.exited;
  });
});
