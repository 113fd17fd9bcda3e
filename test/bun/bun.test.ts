// Issue 24, items 2 and 3: Bun agents watched like node ones, through their inspector link (real Bun, real
// Claude Code): heap in status, GC, a JavaScriptCore snapshot analysed down to the holder, and a Bun process
// whose link is missing left unharmed and rss-only.
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysedCapture, BIN, fixture, readJsonl, runCli, spawnTracked, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { BUN, CLAUDE, runtime } from '../helpers/runtimes.js';

const FAST = ['--min-free', '0', '--interval', '200'];

interface ProcessJson {
  pid: number;
  ppid: number;
  role: string;
  argv?: string[];
  instrumented?: string;
  heap_used_mb?: number;
  heap_limit_mb?: number;
}

async function processes(cwd: string): Promise<ProcessJson[]> {
  const r = await runCli(['status', '--json'], { cwd });
  return r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: ProcessJson[] }).processes : [];
}

describe('a Bun agent', () => {
  it('is seen with its heap, collected, snapshotted (0600) and analysed down to the const holding the leak', async () => {
    const cwd = tempDir();
    const s = startCli([...FAST, '--hard', '2000', '--', runtime(BUN), fixture('bun/leak.js')], { cwd });
    await waitFor(() => s.stdout().toString() === 'leaking\nleaked\n', 30_000, 'the leak to be complete');
    const agent = await waitFor(
      async () => (await processes(cwd)).find((p) => p.instrumented === 'bun' && (p.heap_used_mb ?? 0) >= 10),
      30_000,
      'the Bun agent with its heap',
    );
    expect(agent).toMatchObject({ role: 'agent', heap_limit_mb: 2000 });
    expect(agent.argv).toEqual([runtime(BUN), fixture('bun/leak.js')]);

    const gc = await runCli(['gc', '--pid', String(agent.pid), '--json'], { cwd });
    expect(gc.code).toBe(0);
    expect(JSON.parse(gc.stdout.toString())).toMatchObject({ results: [{ pid: agent.pid, before_bytes: expect.any(Number), after_bytes: expect.any(Number) }] });

    const profile = await runCli(['capture', '--pid', String(agent.pid)], { cwd });
    expect(profile.code).not.toBe(0);
    expect(profile.stderr.toString()).toMatch(/Bun \(JavaScriptCore\) has no sampling heap profiler; take a heap snapshot instead: cfn-supervise capture --pid \d+ --snapshot/);

    const snap = await runCli(['capture', '--pid', String(agent.pid), '--snapshot', '--json'], { cwd });
    expect(snap.stderr.toString()).toBe('');
    const { file } = JSON.parse(snap.stdout.toString()) as { file: string };
    expect(file).toMatch(/\.heapsnapshot$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const analysed = await runCli(['analyze', file, '--json'], { cwd });
    expect(analysed.code).toBe(0);
    const summary = JSON.parse(analysed.stdout.toString()) as {
      constructors: { name: string; count: number }[];
      topRetained: { name: string; path: { steps: { edge: string }[] } | null }[];
    };
    expect(summary.constructors.find((c) => c.name === 'LeakyRecord')?.count).toBe(20_000);
    const holder = summary.topRetained[0]!;
    expect(holder.name).toBe('Array');
    expect(JSON.stringify(holder.path)).toMatch(/leakedRecords/);

    s.child.kill('SIGTERM');
    await s.exited;
    const ended = readJsonl(path.join(cwd, '.cfn-supervise/processes.jsonl')).find((p) => p.pid === agent.pid);
    expect(ended).toMatchObject({ instrumented: 'bun', heap_limit_mb: 2000 });
  });

  it('at critical, a snapshot stands in for the profile Bun cannot take, analysed into the alert', async () => {
    const cwd = tempDir();
    const s = startCli([...FAST, '--warning', '40', '--critical', '50', '--hard', '2000', '--', runtime(BUN), fixture('bun/leak.js')], { cwd });
    // The snapshot is analysed in the pool while the leak goes on: with both cores busy that took over 40 s.
    const analysed = await analysedCapture(cwd, 'rss-critical', 120_000);
    s.child.kill('SIGTERM');
    await s.exited;
    expect(analysed.file).toMatch(/rss-critical\.heapsnapshot$/);
    expect(statSync(analysed.file as string).mode & 0o777).toBe(0o600);
    expect((analysed.top_sites as { site: string }[])[0]!.site).toMatch(/\.leakedRecords → Array$/);
    expect(s.stderr().toString()).toMatch(/\(rss-critical\): largest retainer .*\.leakedRecords → Array, \d+% of the snapshot\n/);
  }, 180_000);

  it('whose Bun child has no link: the child is rss-only, and both print and exit as they do bare', async () => {
    const cwd = tempDir();
    const go = path.join(cwd, 'go');
    const env = { GO_FILE: go };
    const s = startCli([...FAST, '--', runtime(BUN), fixture('bun/unlinked-child.js')], { cwd, env });
    const seen = await waitFor(
      async () => {
        const procs = await processes(cwd);
        const parent = procs.find((p) => p.role === 'agent' && p.instrumented === 'bun');
        const child = procs.find((p) => parent && p.ppid === parent.pid);
        return parent && child ? { parent, child } : undefined;
      },
      30_000,
      'the agent and its child',
    );
    expect(seen.child.instrumented).toBe('rss-only');
    writeFileSync(go, '');
    const supervised = await s.exited;
    const bare = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawnTracked(runtime(BUN), [fixture('bun/unlinked-child.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('close', (code) => resolve({ code, out, err }));
    });
    expect(bare).toEqual({ code: 7, out: 'parent out\nchild out\n', err: 'child err\n' });
    expect({ code: supervised.code, out: s.stdout().toString(), err: s.stderr().toString() }).toEqual(bare);
  });
});

describe('Claude Code (a Bun executable)', () => {
  it('prints its --version byte for byte as bare', async () => {
    const cwd = tempDir();
    const env = { HOME: cwd };
    const bare = await runBare(runtime(CLAUDE), ['--version'], env);
    const supervised = await runCli(['--min-free', '0', '--', runtime(CLAUDE), '--version'], { cwd, env });
    expect(bare.code).toBe(0);
    expect(bare.out.toString()).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)\n$/);
    expect({ code: supervised.code, out: supervised.stdout, err: supervised.stderr }).toEqual(bare);
  });

  it('answers MCP initialize and tools/list over stdio as bare, its heap seen in status meanwhile', async () => {
    const cwd = tempDir();
    const env = { HOME: cwd };
    const bare = await mcpSession([runtime(CLAUDE), 'mcp', 'serve'], env, async () => undefined);
    let heap: ProcessJson | undefined;
    const supervised = await mcpSession([BIN, ...FAST, '--', runtime(CLAUDE), 'mcp', 'serve'], env, async () => {
      heap = await waitFor(async () => (await processes(cwd)).find((p) => p.role === 'agent' && p.instrumented === 'bun' && p.heap_used_mb !== undefined), 30_000, "Claude Code's heap");
    });
    expect(bare.replies.map((r) => r.id)).toEqual([1, 2]);
    expect((bare.replies[1]!.result as { tools: unknown[] }).tools.length).toBeGreaterThan(0);
    expect(supervised).toEqual(bare);
    expect(heap!.heap_used_mb).toBeGreaterThan(0);
  });
});

async function runBare(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: Buffer; err: Buffer }> {
  const c = spawnTracked(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  c.stdout.on('data', (d: Buffer) => out.push(d));
  c.stderr.on('data', (d: Buffer) => err.push(d));
  const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
  return { code, out: Buffer.concat(out), err: Buffer.concat(err) };
}

/** initialize, then tools/list; `whileOpen` runs before stdin closes (mcp serve ends with its input). */
async function mcpSession(argv: string[], env: NodeJS.ProcessEnv, whileOpen: () => Promise<void>) {
  const c = spawnTracked(argv[0]!, argv.slice(1), { cwd: env.HOME, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const send = (msg: object) => c.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  const lines = () => out.split('\n').filter(Boolean);
  const answered = new Promise<void>((resolve) => {
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (lines().length >= 2) resolve();
    });
  });
  const closed = new Promise<number | null>((resolve) => c.on('close', resolve));
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cfn-test', version: '1' } } });
  await waitFor(() => lines().length >= 1, 30_000, 'the initialize reply');
  send({ method: 'notifications/initialized' });
  send({ id: 2, method: 'tools/list', params: {} });
  await answered;
  await whileOpen();
  c.stdin.end();
  const code = await closed;
  return { code, replies: lines().map((l) => JSON.parse(l) as { id: number; result?: unknown }), err };
}
