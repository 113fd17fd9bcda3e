// The executor's admission under parallel requests: the cap holds for captures running side by side, and a
// capture that fails gives its slot back. The instruments are a stand-in whose captures end when the test says.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Executor, type Instrumentation, type RunBook } from '../../src/supervisor/act/executor.js';
import { Gate } from '../../src/supervisor/act/gate.js';
import { openJournal } from '../../src/supervisor/journal/journal.js';
import { tempDir } from '../helpers/cli.js';

interface Held {
  resolve: (file: string) => void;
  reject: (err: Error) => void;
}

function setup(cap: number) {
  const dir = tempDir('cfn-admission-');
  const journal = openJournal({
    logFile: path.join(dir, 'supervisor.log'),
    runsFile: path.join(dir, 'runs.jsonl'),
    alertsFile: path.join(dir, 'alerts.jsonl'),
    processesFile: path.join(dir, 'processes.jsonl'),
  });
  const held: Held[] = [];
  const hold = () => new Promise<string>((resolve, reject) => held.push({ resolve, reject }));
  const instruments: Instrumentation = {
    has: () => true,
    threads: () => [],
    heap: async () => ({ used: 1, total: 1, limit: 1 }),
    saveProfile: hold,
    snapshot: hold,
    gc: async () => ({ beforeBytes: 1, afterBytes: 1 }),
  };
  const executor = new Executor(
    { instruments, notify: () => false, nodePids: () => [], journal, notice: () => {}, reap: () => {} },
    { cooldownMs: 300_000, maxCapturesPerRun: cap, killTimeoutMs: 1000 },
  );
  const run: RunBook = {
    id: 'r-1',
    pid: 1,
    gate: new Gate(),
    captures: [],
    warning: () => {},
    end: async () => {},
    limitKilled: () => {},
    trendCapture: () => undefined,
  };
  const ask = (n: number, from = 1) =>
    Array.from({ length: n }, (_, i) =>
      executor.capture(run, from + i, 'manual', 'profile', true).then(
        () => 'written' as const,
        (err: Error) => (/capture cap/.test(err.message) ? ('refused' as const) : ('failed' as const)),
      ),
    );
  return { executor, run, held, ask, close: () => journal.close() };
}

const count = (outcomes: string[], what: string) => outcomes.filter((o) => o === what).length;
const settle = () => new Promise((r) => setImmediate(r));

describe('the executor admits at most the cap of captures asked at once', () => {
  it.each([
    { asked: 6, cap: 2 },
    { asked: 2, cap: 2 },
    { asked: 1, cap: 3 },
    { asked: 20, cap: 5 },
  ])('$asked at once with --max-captures $cap: min($asked, $cap) run, the rest are refused', async ({ asked, cap }) => {
    const t = setup(cap);
    const outcomes = t.ask(asked);
    await settle();
    expect(t.held).toHaveLength(Math.min(asked, cap));
    t.held.forEach((h, i) => h.resolve(`/captures/${i}.heapprofile`));
    const done = await Promise.all(outcomes);
    expect(count(done, 'written')).toBe(Math.min(asked, cap));
    expect(count(done, 'refused')).toBe(Math.max(0, asked - cap));
    expect(t.run.captures).toHaveLength(Math.min(asked, cap));
    await t.close();
  });

  it.each([
    { cap: 2, fail: 1, later: 1 },
    { cap: 2, fail: 2, later: 2 },
    { cap: 3, fail: 0, later: 0 },
  ])('cap $cap, all taken, $fail of them fail: $later slots free again', async ({ cap, fail, later }) => {
    const t = setup(cap);
    const first = t.ask(cap + 2);
    await settle();
    expect(t.held).toHaveLength(cap);
    t.held.forEach((h, i) => (i < fail ? h.reject(new Error('the process exited')) : h.resolve(`/captures/${i}.heapprofile`)));
    const done = await Promise.all(first);
    expect(count(done, 'failed')).toBe(fail);
    expect(count(done, 'refused')).toBe(2);
    const second = t.ask(cap, 100);
    await settle();
    expect(t.held.length - cap).toBe(later);
    t.held.slice(cap).forEach((h, i) => h.resolve(`/captures/again-${i}.heapprofile`));
    expect(count(await Promise.all(second), 'written')).toBe(later);
    await t.close();
  });
});
