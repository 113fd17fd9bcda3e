// Acceptance against a real supervised tree: the built CLI supervising test/fixtures/control/agent.cjs, and
// the control subcommands run as separate processes against it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { CLI, fixture, isAlive, killQuietly, readJsonl, runCli, startCli, tempDir, waitFor, type Started } from '../helpers/cli.js';


interface StatusJson {
  agent: { phase: string; run_id?: string; pid?: number; restarts: number };
  processes: { pid: number; ppid: number; role: string; rss_mb: number; heap_used_mb?: number; heap_limit_mb?: number; history: { rss_mb: number[] } }[];
}

/** Every process under `root` from /proc, with its executable (node 24 and later name their main thread: no comm). */
function descendants(root: number): { pid: number; exe: string }[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
        const m = /^(\d+) \((.*)\) \S (\d+)/.exec(stat)!;
        return [{ pid: Number(m[1]), exe: readlinkSync(`/proc/${d}/exe`), ppid: Number(m[3]) }];
      } catch {
        return [];
      }
    });
  const found: { pid: number; exe: string }[] = [];
  const walk = (pid: number) => {
    for (const p of all.filter((q) => q.ppid === pid)) {
      found.push(p);
      walk(p.pid);
    }
  };
  walk(root);
  return found;
}

let base: string;
let stateDir: string;
let supervisor: Started | undefined;
const cli = (args: string[]) => runCli([...args, '--state-dir', stateDir], { cwd: base });
const statusJson = async () => JSON.parse((await cli(['status', '--json'])).stdout.toString()) as StatusJson;

beforeAll(async () => {
  base = tempDir('cfn-control-e2e-', 'file');
  stateDir = path.join(base, 'state');
  supervisor = startCli(['--state-dir', stateDir, '--interval', '200', '--min-free', '0', '--heap-limit', '256', '--', process.execPath, fixture('control/agent.cjs')], { cwd: base, scope: 'file' });
  const client = new ControlClient(stateDir);
  await waitFor(() => existsSync(client.socketPath), 15_000, 'the control socket');
  // Ready when all three node processes have registered and been sampled with a heap.
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const { processes } = await client.request<{ processes: StatusJson['processes'] }>('GET', '/processes');
    if (processes.filter((p) => p.heap_used_mb !== undefined).length >= 3) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the agent tree never showed three instrumented node processes: ${supervisor.stderr().toString()}`);
});

afterAll(async () => {
  if (!supervisor) return;
  const pids = descendants(supervisor.child.pid!).map((p) => p.pid);
  killQuietly(supervisor.child.pid, 'SIGTERM');
  await Promise.race([supervisor.exited, new Promise((r) => setTimeout(r, 15_000))]);
  killQuietly(supervisor.child.pid);
  for (const pid of pids) killQuietly(pid);
  rmSync(base, { recursive: true, force: true });
});

describe('control against a supervised tree', () => {
  it('status --json lists every node process of the tree', async () => {
    const status = await statusJson();
    expect(status.agent.phase).toBe('running');
    const nodePids = descendants(supervisor!.child.pid!).filter((p) => p.exe === realpathSync(process.execPath)).map((p) => p.pid).sort();
    expect(nodePids).toHaveLength(3);
    const listed = status.processes.map((p) => p.pid);
    for (const pid of nodePids) expect(listed).toContain(pid);
    const agent = status.processes.find((p) => p.pid === status.agent.pid)!;
    expect(agent.role).toBe('agent');
    expect(agent.heap_limit_mb).toBeGreaterThan(200);
    const table = (await cli(['status'])).stdout.toString();
    for (const pid of nodePids) expect(table).toMatch(new RegExp(`^\\s*${pid}\\s`, 'm'));
  });

  it('capture writes a valid .heapprofile, capture --snapshot a valid .heapsnapshot', async () => {
    const { agent } = await statusJson();
    const profile = await cli(['capture', '--seconds', '1']);
    expect(profile.code).toBe(0);
    const profileFile = profile.stdout.toString().trim();
    expect(profileFile).toMatch(/\.heapprofile$/);
    expect(JSON.parse(readFileSync(profileFile, 'utf8')).head.callFrame).toBeDefined();
    const child = (await statusJson()).processes.find((p) => p.pid !== agent.pid && p.heap_used_mb !== undefined)!;
    const snapshot = await cli(['capture', '--snapshot', '--pid', String(child.pid)]);
    expect(snapshot.code).toBe(0);
    const snapshotFile = snapshot.stdout.toString().trim();
    expect(snapshotFile).toMatch(/\.heapsnapshot$/);
    const parsed = JSON.parse(readFileSync(snapshotFile, 'utf8'));
    expect(parsed.snapshot.node_count).toBeGreaterThan(1000);
    expect(parsed.nodes.length).toBe(parsed.snapshot.node_count * parsed.snapshot.meta.node_fields.length);
  });

  it('gc reports heap before and after for every node process', async () => {
    const gc = await cli(['gc', '--json']);
    expect(gc.code).toBe(0);
    const { results } = JSON.parse(gc.stdout.toString()) as { results: { pid: number; before_bytes: number; after_bytes: number }[] };
    expect(results.length).toBe(3);
    for (const r of results) {
      expect(r.before_bytes).toBeGreaterThan(0);
      expect(r.after_bytes).toBeGreaterThan(0);
    }
    expect((await cli(['gc'])).stdout.toString()).toMatch(/heap \d.* -> \d.*, freed/);
  });

  it('/metrics from the running supervisor passes promtool', async () => {
    const text = await new ControlClient(stateDir).request<string>('GET', '/metrics');
    expect(text).toMatch(/^cfn_supervise_agent_processes\{role="agent"\} 1$/m);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  });

  it('top shows the tree under tmux', async () => {
    const tmux = ['-L', `cfn-e2e-top-${process.pid}`, '-f', '/dev/null'];
    const pane = () => execFileSync('tmux', [...tmux, 'capture-pane', '-p', '-t', 'top'], { encoding: 'utf8' });
    const { agent } = await statusJson();
    execFileSync('tmux', [...tmux, 'new-session', '-d', '-s', 'top', '-x', '160', '-y', '30', `${process.execPath} ${CLI} top --state-dir ${stateDir}; echo "top exited $?"; sleep 60`]);
    try {
      const screen = await waitFor(() => new RegExp(`^\\s*${agent.pid}\\s+agent\\s`, 'm').test(pane()) && pane(), 15_000, 'the agent row');
      expect(screen).toMatch(/RSS HISTORY/);
      execFileSync('tmux', [...tmux, 'send-keys', '-t', 'top', 'q']);
      expect(await waitFor(() => /top exited/.test(pane()) && pane(), 10_000, 'top to exit')).toMatch(/top exited 0/);
    } finally {
      execFileSync('tmux', [...tmux, 'kill-server'], { stdio: 'ignore' });
    }
  });

  it('bad requests leave the supervisor supervising', async () => {
    const client = new ControlClient(stateDir);
    await expect(client.request('POST', '/capture', { body: { kind: 'nope' } })).rejects.toThrow(/kind/);
    await expect(client.request('GET', '/missing')).rejects.toThrow(/no route/);
    expect(isAlive(supervisor!.child.pid!)).toBe(true);
    expect((await statusJson()).agent.phase).toBe('running');
  });

  it('restart starts a new run, recorded in runs.jsonl', async () => {
    const before = await statusJson();
    const restart = await cli(['restart']);
    expect(restart.code).toBe(0);
    const ended = await waitFor(() => existsSync(path.join(stateDir, 'runs.jsonl')) && readJsonl(path.join(stateDir, 'runs.jsonl')).find((r) => r.run_id === before.agent.run_id), 20_000, 'the restarted run in runs.jsonl');
    expect(ended.pid).toBe(before.agent.pid);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const now = await statusJson();
      if (now.agent.phase === 'running' && now.agent.run_id !== before.agent.run_id) {
        expect(now.agent.pid).not.toBe(before.agent.pid);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('no new run after restart');
  });

  it('no supervisor: one line and exit 3', async () => {
    const empty = tempDir('cfn-control-none-');
    const res = await runCli(['status', '--state-dir', empty], { cwd: empty });
    expect(res.code).toBe(3);
    expect(res.stderr.toString()).toBe(`cfn-supervise: no supervisor is running in ${empty}\n`);
    rmSync(empty, { recursive: true, force: true });
  });
});
