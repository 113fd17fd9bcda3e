// Issue 25, item 4: every process's fate is in the record. A node child that runs out of heap and a child killed
// at the per-process hard limit are announced, written to processes.jsonl with cause and signal, summarised in the
// run's record and counted by `report` per role, although the agent itself lives on and exits 0.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, readJsonl, runCli, tempDir } from './helpers/cli.js';

const journal = (cwd: string, name: string) => readJsonl(path.join(cwd, '.cfn-supervise', name));

interface RoleReport {
  role: string;
  ends: Record<string, number>;
}
async function reportOf(cwd: string): Promise<{ totals: { members: Record<string, number> }; roles: RoleReport[] }> {
  const r = await runCli(['report', '--json'], { cwd });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.toString()) as { totals: { members: Record<string, number> }; roles: RoleReport[] };
}

describe("a member's death by memory, the agent living on", () => {
  it('node children that run out of heap (fork and sh -c): notices, processes.jsonl, the run record, report', async () => {
    const cwd = tempDir();
    const r = await runCli(['--min-free', '0', '--heap-limit', '48', '--interval', '200', '--restart', 'never', '--', 'node', fixture('lifecycle/children-die.cjs'), 'node'], { cwd });
    expect(r.code).toBe(0);
    const stderr = r.stderr.toString();
    expect(stderr.match(/\[oom\] node:leaky-child\.cjs \(pid \d+\) ran out of heap \(SIGABRT after V8's FATAL ERROR\); report: \S+report\.\S+\.json/g)).toHaveLength(2);
    const oom = journal(cwd, 'processes.jsonl').filter((p) => p.cause === 'oom');
    expect(oom).toHaveLength(2);
    for (const p of oom) expect(p).toMatchObject({ role: 'node:leaky-child.cjs', signal: 'SIGABRT', report: expect.stringMatching(/reports\/report\..*\.json$/) });
    expect(journal(cwd, 'alerts.jsonl').filter((a) => a.metric === 'oom')).toHaveLength(2);
    const [run] = journal(cwd, 'runs.jsonl');
    expect(run).toMatchObject({ exit: { reason: 'clean', code: 0 }, members: { oom: 2 } });
    const report = await reportOf(cwd);
    expect(report.totals.members).toEqual({ oom: 2 });
    expect(report.roles.find((x) => x.role === 'node:leaky-child.cjs')?.ends).toEqual({ oom: 2 });
  }, 90_000);

  it('node children that die between two ticks: known from their registration, their lines and fates written', async () => {
    const cwd = tempDir();
    // One tick at the start, the next long after both children died of their heap.
    const r = await runCli(['--min-free', '0', '--heap-limit', '48', '--interval', '60000', '--restart', 'never', '--', 'node', fixture('lifecycle/children-die.cjs'), 'node'], { cwd });
    expect(r.code).toBe(0);
    const oom = journal(cwd, 'processes.jsonl').filter((p) => p.cause === 'oom');
    expect(oom).toHaveLength(2);
    // Dead when the run ended: they exited on their own, as did the agent, whose exit ended the run.
    for (const p of oom) expect(p).toMatchObject({ role: 'node:leaky-child.cjs', signal: 'SIGABRT', ended: 'exited', argv: [expect.stringMatching(/node$/), fixture('lifecycle/leaky-child.cjs')] });
    const [run] = journal(cwd, 'runs.jsonl');
    expect(run).toMatchObject({ members: { oom: 2 } });
    expect(journal(cwd, 'processes.jsonl').find((p) => p.pid === run!.pid)).toMatchObject({ role: 'agent', ended: 'exited' });
  }, 90_000);

  it('a python child killed at the hard limit: notice, processes.jsonl with the signal, the run record, report', async () => {
    const cwd = tempDir();
    const r = await runCli(
      ['--min-free', '0', '--interval', '200', '--warning', '100', '--critical', '150', '--hard', '200', '--kill-timeout', '2000', '--restart', 'never', '--', 'node', fixture('lifecycle/children-die.cjs'), 'python'],
      { cwd },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/python ended: SIGTERM/);
    expect(r.stderr.toString()).toMatch(/\[hard\] terminated pid \d+: rss over 200 MB/);
    const killed = journal(cwd, 'processes.jsonl').filter((p) => p.cause === 'limit');
    expect(killed).toEqual([expect.objectContaining({ role: expect.stringMatching(/python/), signal: 'SIGTERM', ended: 'terminated' })]);
    const [run] = journal(cwd, 'runs.jsonl');
    expect(run).toMatchObject({ exit: { reason: 'clean', code: 0 }, members: { limit: 1 } });
    const report = await reportOf(cwd);
    expect(report.totals.members).toEqual({ limit: 1 });
    expect(report.roles.find((x) => x.role === killed[0]!.role)?.ends).toEqual({ limit: 1 });
  }, 90_000);
});
