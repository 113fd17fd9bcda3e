// Issue 27, item 1: the agent's output is kept. Under systemd, Docker or CI (no terminal) stdout and stderr reach
// their destination unchanged and are also kept in <state-dir>/logs; a failed run's record holds its last stderr
// lines; `logs` reads them offline; a terminal is never interposed on.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { BIN, CLI, fixture, killQuietly, readJsonl, runCli, startCli, tempDir, waitFor } from './helpers/cli.js';
import { Tmux } from './helpers/tmux.js';
import { inert } from '../src/cli/output.js';
import { formatRecord } from '../src/cli/logs.js';
import type { AgentLogRecord } from '../src/supervisor/output/agent-log.js';

const FAST = ['--backoff', '10', '--min-free', '0', '--no-probe', '--restart', 'never'];
const OUTPUT = fixture('agent-log/output.cjs');
const sh = (script: string, cwd: string) => spawnSync('sh', ['-c', script], { cwd, encoding: 'buffer', timeout: 60_000, maxBuffer: 16 << 20 });
const agentLog = (cwd: string) => readJsonl(path.join(cwd, '.cfn-supervise/logs/agent.log'));
const runs = (cwd: string) => readJsonl(path.join(cwd, '.cfn-supervise/runs.jsonl'));

it('passes piped stdout and stderr through unchanged and keeps them, timestamped, in the agent log', async () => {
  const cwd = tempDir('cfn-agent-log-');
  const bare = spawnSync(process.execPath, [OUTPUT], { cwd, maxBuffer: 16 << 20 });
  const r = await runCli([...FAST, '--', 'node', OUTPUT, path.join(cwd, 'fds.json')], { cwd });
  expect(r.code).toBe(0);
  expect(r.stdout.equals(bare.stdout)).toBe(true);
  expect(r.stderr.equals(bare.stderr)).toBe(true);
  // The agent wrote into a pipe of the supervisor's, not into the test's.
  const fds = JSON.parse(readFileSync(path.join(cwd, 'fds.json'), 'utf8')) as { tty: boolean; link: string }[];
  expect(fds.map((f) => f.tty)).toEqual([false, false]);

  const log = path.join(cwd, '.cfn-supervise/logs/agent.log');
  expect(statSync(log).mode & 0o777).toBe(0o600);
  const records = agentLog(cwd);
  const runId = runs(cwd)[0]!.run_id;
  for (const rec of records) expect(rec).toMatchObject({ ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown, run: runId });
  const of = (stream: string) => records.filter((x) => x.stream === stream).map((x) => x.line as string);
  expect(of('stderr')).toEqual(['err one', 'login with --token *** now', 'err three']);
  expect(of('stdout').slice(0, 2)).toEqual(['\ufffd\ufffd\u0000A', '\ufffdout two']);
  expect(records.filter((x) => x.stream === 'stdout').at(-1)).toMatchObject({ line: 'no newline at the end', partial: true });

  const last = records.at(-1)!;
  const shown = await runCli(['logs', '--lines', '1'], { cwd });
  expect(shown.code).toBe(0);
  expect(shown.stdout.toString()).toBe(`${inert(formatRecord(last as unknown as AgentLogRecord))}\n`);
  expect((await runCli(['logs', '--lines', '10000'], { cwd })).stdout.toString()).toMatch(new RegExp(`Z ${runId as string} stderr err three\n`));
  const json = await runCli(['logs', '--lines', '1', '--json', '--run', runId as string], { cwd });
  expect(JSON.parse(json.stdout.toString())).toMatchObject({ run: runId, ts: records.at(-1)!.ts });
  expect((await runCli(['logs', '--run', 'nope'], { cwd })).stdout.toString()).toBe('');
});

it('logs gives a reader every line before it exits, also a slow one', async () => {
  const cwd = tempDir('cfn-agent-log-slow-reader-');
  expect((await runCli([...FAST, '--', 'node', OUTPUT], { cwd })).code).toBe(0);
  const last = inert(formatRecord(agentLog(cwd).at(-1) as unknown as AgentLogRecord));
  // A pipe's reader that starts late leaves what `logs` wrote last queued in its process when it is done: sizes
  // around the pipe's 64 KiB and beyond, where the last write is the one that waits.
  for (const n of [100, 140, 180, 220, 260, 300, 400]) {
    const lines = sh(`${BIN} logs --lines ${n} | (sleep 0.3; cat)`, cwd).stdout.toString().split('\n');
    expect(lines).toHaveLength(n + 1);
    expect(lines.at(-2)).toBe(last);
  }
});

it('keeps the order of stdout and stderr when they share a destination (2>&1)', () => {
  const cwd = tempDir('cfn-agent-log-merged-');
  expect(sh(`node ${OUTPUT} > bare.out 2>&1`, cwd).status).toBe(0);
  expect(sh(`${BIN} ${FAST.join(' ')} -- node ${OUTPUT} > sup.out 2>&1`, cwd).status).toBe(0);
  expect(readFileSync(path.join(cwd, 'sup.out')).equals(readFileSync(path.join(cwd, 'bare.out')))).toBe(true);
  const lines = agentLog(cwd).map((x) => `${x.stream as string} ${x.line as string}`);
  expect(lines.slice(0, 4)).toEqual(['stdout+stderr \ufffd\ufffd\u0000A', 'stdout+stderr \ufffderr one', 'stdout+stderr out two', 'stdout+stderr login with --token *** now']);
});

it('lets a closed reader (| head) end the agent with SIGPIPE, as it would bare', () => {
  const cwd = tempDir('cfn-agent-log-epipe-');
  const r = sh(`${BIN} ${FAST.join(' ')} -- yes | head -n 2`, cwd);
  expect(r.stdout.toString()).toBe('y\ny\n');
  expect(runs(cwd)[0]!.exit).toMatchObject({ signal: 'SIGPIPE' });
  // And `logs | head` ends quietly.
  const logs = sh(`${BIN} logs --lines 5 | head -n 1`, cwd);
  expect(logs.status).toBe(0);
  expect(logs.stderr.toString()).toBe('');
  expect(logs.stdout.toString()).toMatch(/ stdout y\n$/);
});

it('records the last stderr lines of an OOM: the GCs and the FATAL ERROR', async () => {
  const cwd = tempDir('cfn-agent-log-oom-');
  const r = await runCli([...FAST, '--heap-limit', '64', '--', 'node', fixture('lifecycle/oom.cjs')], { cwd });
  expect(r.signal).toBe('SIGABRT');
  const [run] = runs(cwd);
  expect(run!.exit).toMatchObject({ reason: 'oom' });
  expect(run!.last_stderr_source).toBe('stderr');
  const last = run!.last_stderr as string[];
  expect(last.length).toBeLessThanOrEqual(50);
  expect(last).toContain('<--- Last few GCs --->');
  expect(last.some((l) => /^FATAL ERROR: .*heap out of memory/.test(l))).toBe(true);
});

it('follows a running agent with logs -f', async () => {
  const cwd = tempDir('cfn-agent-log-follow-');
  const agent = startCli([...FAST, '--', 'node', fixture('terminal/ticker.cjs')], { cwd });
  await waitFor(() => existsSync(path.join(cwd, '.cfn-supervise/logs/agent.log')), 20_000, 'the agent log');
  const follow = startCli(['logs', '-f', '--lines', '0'], { cwd });
  try {
    const seen = await waitFor(() => /stdout tick (\d+)\n(.|\n)*stdout tick \d+\n/.exec(follow.stdout().toString()) ?? undefined, 20_000, 'two new ticks');
    expect(Number(seen[1])).toBeGreaterThan(0);
  } finally {
    killQuietly(follow.child.pid, 'SIGINT');
    killQuietly(agent.child.pid, 'SIGTERM');
  }
  await agent.exited;
});

it('leaves fds inherited with --no-agent-log', async () => {
  const cwd = tempDir('cfn-agent-log-off-');
  expect(sh(`${BIN} ${FAST.join(' ')} --no-agent-log -- node ${OUTPUT} ${path.join(cwd, 'fds.json')} describe > out.txt 2> err.txt`, cwd).status).toBe(0);
  const fds = JSON.parse(readFileSync(path.join(cwd, 'fds.json'), 'utf8')) as { link: string }[];
  expect(fds.map((f) => f.link)).toEqual([path.join(cwd, 'out.txt'), path.join(cwd, 'err.txt')]);
  expect(existsSync(path.join(cwd, '.cfn-supervise/logs'))).toBe(false);
  // Without the flag the same command line gets a pipe.
  expect(sh(`${BIN} ${FAST.join(' ')} -- node ${OUTPUT} ${path.join(cwd, 'fds.json')} describe > out.txt 2> err.txt`, cwd).status).toBe(0);
  const piped = JSON.parse(readFileSync(path.join(cwd, 'fds.json'), 'utf8')) as { link: string }[];
  expect(piped.map((f) => f.link)).toEqual([expect.stringMatching(/^pipe:/), expect.stringMatching(/^pipe:/)]);
});

it('does not come between the agent and its terminal', async () => {
  const cwd = tempDir('cfn-agent-log-tty-');
  const t = new Tmux('agent-log');
  t.start(`cd ${cwd} && ${process.execPath} ${CLI} ${FAST.join(' ')} -- node ${OUTPUT} ${path.join(cwd, 'fds.json')} describe; echo "exited $?"; sleep 60`);
  try {
    await waitFor(() => /exited 0/.test(t.screen()), 30_000, 'the agent to end');
    const fds = JSON.parse(readFileSync(path.join(cwd, 'fds.json'), 'utf8')) as { tty: boolean; link: string }[];
    expect(fds.map((f) => f.tty)).toEqual([true, true]);
    expect(fds[0]!.link).toMatch(/^\/dev\/pts\//);
    expect(existsSync(path.join(cwd, '.cfn-supervise/logs'))).toBe(false);
  } finally {
    t.kill();
  }
});

it('records what the fatal-error report says of an OOM whose stderr was a terminal', async () => {
  const cwd = tempDir('cfn-agent-log-tty-oom-');
  const t = new Tmux('agent-log-oom');
  t.start(`cd ${cwd} && ${process.execPath} ${CLI} ${FAST.join(' ')} --heap-limit 64 -- node ${fixture('lifecycle/oom.cjs')}; echo "exited $?"; sleep 60`);
  try {
    await waitFor(() => /exited 134/.test(t.screen()), 60_000, 'the agent to die');
    const [run] = runs(cwd);
    expect(run).toMatchObject({ exit: { reason: 'oom' }, last_stderr_source: 'report' });
    expect((run!.last_stderr as string[])[0]).toMatch(/^FATAL ERROR: .*heap out of memory/);
  } finally {
    t.kill();
  }
});

it('refuses bad input in one line', async () => {
  const cwd = tempDir('cfn-agent-log-bad-');
  for (const args of [['logs', '--lines', 'many'], ['logs', '--frobnicate']]) {
    const r = await runCli(args, { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.toString().trim().split('\n')).toHaveLength(1);
  }
  const none = await runCli(['logs'], { cwd });
  expect(none.code).toBe(1);
  expect(none.stderr.toString()).toMatch(/^cfn-supervise: no agent log in .*\n$/);
});
