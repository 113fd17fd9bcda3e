// Worker threads: each is an isolate with its own heap and limit, seen, judged, captured and counted on its own
// (issue #25 item 1). Real workers, real OOMs (ERR_WORKER_OUT_OF_MEMORY).
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, freePort, isAlive, readJsonl, runCli, startCli, tempDir, waitFor } from './helpers/cli.js';
import { topSelfFrame } from './helpers/profile.js';

const workers = (name: string) => fixture(`workers/${name}`);
const FAST = ['--backoff', '10', '--min-free', '0'];
const journal = (cwd: string, name: string) => {
  const f = path.join(cwd, '.cfn-supervise', name);
  return existsSync(f) ? readJsonl(f) : [];
};

interface StatusProcess {
  pid: number;
  role: string;
  heap_used_mb?: number;
  workers?: { thread: number; heap_used_mb?: number; heap_limit_mb?: number; level: string }[];
}
const status = async (cwd: string) => {
  const r = await runCli(['status', '--json'], { cwd });
  return r.code === 0 ? (JSON.parse(r.stdout.toString()) as { processes: StatusProcess[] }).processes : [];
};

describe('worker threads', () => {
  it("a leaking worker: its isolate's alerts, a capture naming its function before it dies, run reason oom and a restart under on-oom", async () => {
    const cwd = tempDir();
    const r = await runCli([...FAST, '--heap-limit', '160', '--max-restarts', '1', '--', 'node', workers('leak.cjs')], { cwd });
    // The app's own end, unchanged: the unhandled worker error ends node with exit code 1.
    expect(r.code).toBe(1);
    expect(r.stderr.toString()).toMatch(/ERR_WORKER_OUT_OF_MEMORY/);
    const runs = journal(cwd, 'runs.jsonl');
    expect(runs.map((x) => x.exit)).toEqual([
      { code: 1, signal: null, reason: 'oom' },
      { code: 1, signal: null, reason: 'oom' },
    ]);
    const first = runs[0]!;
    const alerts = journal(cwd, 'alerts.jsonl').filter((a) => a.run_id === first.run_id);
    // The worker's isolate is judged against its own limit: the main thread's heap stays small. Whether it is seen
    // critical first depends on the node: node ends a worker as V8 nears its limit, at 88% of it on Node 20 and
    // 83% on Node 24 (critical is 85%).
    const heap = alerts.filter((a) => a.metric === 'heap');
    expect(heap.map((a) => a.thread)).toEqual(heap.map(() => 1));
    expect(heap[0]).toMatchObject({ thread: 1, level: 'warning' });
    expect(heap[0]!.message).toMatch(/worker thread 1\): heap at \d+% of its old-space limit/);
    const oom = alerts.find((a) => a.metric === 'oom');
    expect(oom).toMatchObject({ level: 'critical', pid: first.pid, thread: 1 });
    expect(oom!.message).toMatch(/worker thread 1 ran out of heap \(ERR_WORKER_OUT_OF_MEMORY\); unhandled: the agent ends with it/);
    // Evidence from the worker's isolate, written before it died.
    const captures = first.captures as string[];
    expect(captures.length).toBeGreaterThanOrEqual(1);
    expect(path.basename(captures[0]!)).toMatch(new RegExp(`-${first.pid as number}-worker-1-heap-(trend|critical|imminent)\\.heapprofile$`));
    expect(topSelfFrame(captures[0]!)).toBe('workerLeak');
    expect(statSync(captures[0]!).mtimeMs).toBeLessThan(Date.parse(oom!.ts as string));
    const agent = journal(cwd, 'processes.jsonl').find((p) => p.pid === first.pid);
    expect(agent).toMatchObject({ role: 'agent', worker_ooms: 1, worker_threads: 1, worker_heap_limit_mb: 160 });
    // Its last reading before node ended it (at 83% of 160 MB on Node 24) was its peak.
    expect(agent!.peak_worker_heap_mb).toBeGreaterThanOrEqual(100);
    expect(agent!.peak_heap_mb).toBeLessThan(50);
  });

  it("lists a worker's isolate in status, status --json and metrics, and captures it on request (capture --pid N --thread T)", async () => {
    const cwd = tempDir();
    const port = await freePort();
    const s = startCli([...FAST, '--heap-limit', '1024', '--interval', '500', '--metrics-port', String(port), '--', 'node', workers('slow-leak.cjs')], { cwd });
    const agent = await waitFor(async () => (await status(cwd)).find((p) => p.role === 'agent' && p.workers?.[0]?.heap_used_mb !== undefined), 30_000, 'the worker in status');
    expect(agent.workers).toEqual([expect.objectContaining({ thread: 1, heap_limit_mb: 1024, level: 'ok' })]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^cfn_supervise_agent_worker_threads\{role="agent"\} 1$/m);
    expect(metrics).toMatch(/^cfn_supervise_agent_worker_heap_used_bytes\{role="agent"\} \d+/m);
    expect(metrics).toMatch(/^cfn_supervise_agent_worker_heap_limit_bytes\{role="agent"\} 1073741824$/m);
    const table = await runCli(['status'], { cwd });
    expect(table.stdout.toString()).toMatch(/\n +└ worker thread 1 +probe +[\d.]+ MB \/ 1024 MB +ok/);

    const captured = await runCli(['capture', '--pid', String(agent.pid), '--thread', '1', '--seconds', '2', '--json'], { cwd });
    expect(captured.code).toBe(0);
    const result = JSON.parse(captured.stdout.toString()) as { file: string; pid: number; thread: number };
    expect(result).toMatchObject({ pid: agent.pid, thread: 1 });
    expect(path.basename(result.file)).toMatch(new RegExp(`-${agent.pid}-worker-1-manual\\.heapprofile$`));
    expect(topSelfFrame(result.file)).toBe('workerSlowLeak');
    // A thread that is not there is a clear refusal, and --thread needs its process.
    const missing = await runCli(['capture', '--pid', String(agent.pid), '--thread', '9'], { cwd });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.toString()).toMatch(/has no worker thread 9 with a probe/);
    const alone = await runCli(['capture', '--thread', '1'], { cwd });
    expect(alone.code).not.toBe(0);
    expect(alone.stderr.toString()).toMatch(/--thread needs --pid/);
    s.child.kill('SIGTERM');
    await s.exited;
  });

  it('a worker OOM the main thread handles: counted in the process record, the agent not restarted', async () => {
    const cwd = tempDir();
    const s = startCli([...FAST, '--heap-limit', '160', '--interval', '500', '--', 'node', workers('leak.cjs'), 'handled'], { cwd });
    const agent = await waitFor(async () => (await status(cwd)).find((p) => p.role === 'agent' && p.workers), 30_000, 'the worker in status');

    const oom = await waitFor(() => journal(cwd, 'alerts.jsonl').find((a) => a.metric === 'oom'), 60_000, 'the worker OOM alert');
    expect(oom).toMatchObject({ pid: agent.pid, thread: 1 });
    expect(oom.message).toMatch(/the process handled it and lives on/);
    // The agent lives on, unrestarted, and its worker is gone from status.
    await waitFor(async () => (await status(cwd)).find((p) => p.pid === agent.pid && !p.workers), 20_000, 'the worker gone from status');
    expect(isAlive(agent.pid)).toBe(true);
    expect(journal(cwd, 'runs.jsonl')).toEqual([]);
    s.child.kill('SIGTERM');
    await s.exited;
    const runs = journal(cwd, 'runs.jsonl');
    expect(runs).toHaveLength(1);
    expect((runs[0]!.exit as { reason: string }).reason).toBe('stopped');
    expect(runs[0]!.members).toEqual({ oom: 1 });
    expect(journal(cwd, 'processes.jsonl').find((p) => p.pid === agent.pid)).toMatchObject({ worker_ooms: 1 });
  });

  it('many short-lived workers: the app is unharmed (its exit code as bare) and their registrations do not outlive them', async () => {
    const cwd = tempDir();
    const marker = path.join(cwd, 'all-ended');
    const go = path.join(cwd, 'go');
    const s = startCli([...FAST, '--interval', '200', '--', 'node', workers('many.cjs'), marker, go], { cwd });
    // The first worker lives until the supervisor has seen it: the others may all be gone between two ticks.
    await waitFor(async () => (await status(cwd)).some((p) => p.role === 'agent' && p.workers?.length), 30_000, 'a worker seen in status');
    writeFileSync(go, '');
    await waitFor(() => existsSync(marker), 60_000, 'the 50 workers to end');
    const log = () => journal(cwd, 'supervisor.log');
    // Workers did register (those that lived long enough), and none is left once all have ended.
    expect(log().filter((l) => l.msg === 'worker thread registered').length).toBeGreaterThan(0);
    const agent = await waitFor(async () => (await status(cwd)).find((p) => p.role === 'agent' && !p.workers), 20_000, 'no worker left in status');
    process.kill(agent.pid, 'SIGUSR2');
    const { code } = await s.exited;
    expect(code).toBe(7);
    expect(journal(cwd, 'runs.jsonl').map((x) => x.exit)).toEqual([{ code: 7, signal: null, reason: 'crash' }]);
    expect(log().filter((l) => l.msg === 'probe connection rejected')).toEqual([]);
    const line = journal(cwd, 'processes.jsonl').find((p) => p.pid === agent.pid)!;
    expect(line.worker_threads).toBeGreaterThan(0);
    expect(line.worker_threads).toBeLessThanOrEqual(50);
  });
});
