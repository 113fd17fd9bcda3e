// The control subcommands as real processes against a control server with test handlers: output, exit codes,
// one-line errors, the progress bar on a terminal, and `top` under tmux.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { startControl, type ControlServer } from '../../src/supervisor/control/server.js';
import { Metrics } from '../../src/supervisor/control/metrics.js';
import { CLI, tempDir, waitFor } from '../helpers/cli.js';
import { silentLog, testHandlers } from './harness.js';

// The real bin: the control subcommands need nothing but the state dir of a control server, here one with test handlers.
const HARNESS = CLI;

function run(args: string[], command: string[] = [process.execPath, HARNESS]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, [...command.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let base: string;
let stateDir: string;
let server: ControlServer;
let calls: { name: string; arg?: unknown }[];

beforeAll(async () => {
  base = tempDir('cfn-control-cli-', 'file');
  stateDir = path.join(base, 'state');
  const test = testHandlers(stateDir);
  calls = test.calls;
  server = await startControl(test.handlers, { stateDir, metrics: new Metrics(), log: silentLog });
});

afterAll(async () => {
  await server?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('control subcommands', () => {
  it('status prints a table of the tree', async () => {
    const { code, stdout, stderr } = await run(['status', '--state-dir', stateDir]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`supervisor  pid ${process.pid}, up 1h02m, ${stateDir}`);
    expect(lines[1]).toBe('agent       running, run abcd-1, pid 4242, 2 restarts');
    expect(lines[2]).toBe('tree        3 processes, RSS 170 MB, heap 76 MB, level warning');
    expect(lines[4]).toMatch(/^\s*PID\s+ROLE\s+SEEN BY\s+RSS\s+ANON\s+HEAP USED \/ LIMIT\s+EXTERNAL\s+LEVEL\s+TREND$/);
    expect(lines[5]).toMatch(/^4242\s+agent\s+probe\s+121 MB\s+-\s+64 MB \/ 256 MB\s+-\s+ok\s+\+4\.2 MB\/min, OOM in ~31 min$/);
    expect(lines[6]).toMatch(/^4243\s+node:worker\.js\s+inspector\s+48 MB\s+-\s+12 MB \/ 256 MB\s+-\s+warning\s+-$/);
    expect(lines[7]).toMatch(/^4244\s+sh\s+rss-only\s+1\.4 MB\s+-\s+-\s+-\s+ok\s+-$/);
  });

  it('status --json carries the status and every process', async () => {
    const { code, stdout } = await run(['status', '--json', '--state-dir', stateDir]);
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout);
    expect(parsed.agent.pid).toBe(4242);
    expect(parsed.processes.map((p: { pid: number }) => p.pid)).toEqual([4242, 4243, 4244]);
  });

  it('capture, gc, cleanup print one result each', async () => {
    const profile = await run(['capture', '--pid', '4243', '--seconds', '1', '--state-dir', stateDir]);
    expect(profile).toEqual({ code: 0, stdout: '/captures/profile.heapprofile\n', stderr: '' });
    expect(calls.find((c) => c.name === 'capture')?.arg).toEqual({ pid: 4243, kind: 'profile', seconds: 1 });
    const snapshot = await run(['capture', '--snapshot', '--state-dir', stateDir]);
    // Without --pid the supervisor chose: stdout stays the path alone for scripts, stderr says which process.
    expect(snapshot).toEqual({ code: 0, stdout: '/captures/snapshot.heapsnapshot\n', stderr: 'cfn-supervise: captured pid 4242; name one with --pid\n' });
    const gc = await run(['gc', '--state-dir', stateDir]);
    expect(gc).toEqual({ code: 0, stdout: '4242 (agent): heap 100 MB -> 40 MB, freed 60 MB\n', stderr: '' });
    const gcJson = await run(['gc', '--json', '--pid', '7', '--state-dir', stateDir]);
    expect(JSON.parse(gcJson.stdout).results[0]).toMatchObject({ pid: 7, before_bytes: 104857600, after_bytes: 41943040 });
    const cleanup = await run(['cleanup', '--state-dir', stateDir]);
    expect(cleanup).toEqual({ code: 0, stdout: 'reaped 1 zombie, removed 2 captures\n', stderr: '' });
  });

  it('draws a progress bar on a terminal while a snapshot streams, then prints the path', async () => {
    const { code, stdout } = await run(['-qec', `${process.execPath} ${HARNESS} capture --snapshot --state-dir ${stateDir}`, '/dev/null'], ['script']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\[#{30}\] 100% writing 4\.0 MB/);
    expect(stdout).toMatch(/\/captures\/snapshot\.heapsnapshot\r?\n$/);
  });

  it('reports failures in one line: supervisor errors 1, bad input 2, no supervisor 3, nothing to act on 4', async () => {
    const failed = await run(['restart', '--state-dir', stateDir]);
    expect(failed).toEqual({ code: 1, stdout: '', stderr: 'cfn-supervise: restart exploded\n' });
    const refused = await run(['capture', '--pid', '999', '--state-dir', stateDir]);
    expect(refused).toEqual({ code: 4, stdout: '', stderr: 'cfn-supervise: no node process 999 in the agent tree\n' });
    const empty = tempDir('cfn-control-none-');
    const none = await run(['status', '--state-dir', empty]);
    expect(none).toEqual({ code: 3, stdout: '', stderr: `cfn-supervise: no supervisor is running in ${empty}\n` });
    // A script asking for JSON gets JSON on stdout whatever happens, and the same exit code.
    const noneJson = await run(['status', '--json', '--state-dir', empty]);
    expect(noneJson.code).toBe(3);
    expect(JSON.parse(noneJson.stdout)).toEqual({ error: { kind: 'noSupervisor', message: `no supervisor is running in ${empty}`, exit_code: 3 } });
    expect(noneJson.stderr).toBe(`cfn-supervise: no supervisor is running in ${empty}\n`);
    const failedJson = await run(['restart', '--json', '--state-dir', stateDir]);
    expect([failedJson.code, JSON.parse(failedJson.stdout)]).toEqual([1, { error: { kind: 'failure', message: 'restart exploded', exit_code: 1 } }]);
    expect((await run(['top', '--state-dir', empty])).code).toBe(2);
    rmSync(empty, { recursive: true, force: true });
    for (const args of [['capture', '--pid', 'abc'], ['capture', '--seconds', '0'], ['capture', '--snapshot', '--seconds', '5'], ['gc', '--pid', '0']]) {
      const bad = await run([...args, '--state-dir', stateDir]);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).not.toMatch(/\bat .*:\d+:\d+/);
    }
  });
});

describe('top', () => {
  it('shows the processes under tmux, quits on q and restores the terminal', async () => {
    const tmux = ['-L', `cfn-top-${process.pid}`, '-f', '/dev/null'];
    const pane = () => execFileSync('tmux', [...tmux, 'capture-pane', '-p', '-t', 'top'], { encoding: 'utf8' });
    const command = `${process.execPath} ${HARNESS} top --state-dir ${stateDir}; echo "top exited $?"; sleep 60`;
    execFileSync('tmux', [...tmux, 'new-session', '-d', '-s', 'top', '-x', '140', '-y', '30', command]);
    try {
      const screen = await waitFor(() => /RSS HISTORY/.test(pane()) && pane(), 15_000, 'the top screen');
      expect(screen).toMatch(/cfn-supervise top .* every 1000 ms/);
      expect(screen).toMatch(/^4242\s+agent\s+probe\s+121 MB\s+-\s+64 MB \/ 256 MB\s+-\s+ok\s+\+4\.2 MB\/min, OOM in ~31 min\s+▁▂▄▆█$/m);
      expect(screen).toMatch(/^4243\s+node:worker\.js\s+inspector\s+48 MB/m);
      expect(screen).toMatch(/^4244\s+sh\s+rss-only\s+1\.4 MB/m);
      // It refreshes on its own, at the interval the supervisor has now.
      await new ControlClient(stateDir).request('PATCH', '/config', { body: { interval: 250 } });
      await waitFor(() => /every 250 ms/.test(pane()), 5_000, 'a refresh');
      await new ControlClient(stateDir).request('PATCH', '/config', { body: { interval: 1000 } });
      execFileSync('tmux', [...tmux, 'send-keys', '-t', 'top', 'q']);
      const after = await waitFor(() => /top exited/.test(pane()) && pane(), 10_000, 'top to exit');
      expect(after).toMatch(/top exited 0/);
      expect(after).not.toMatch(/RSS HISTORY/);
      const cursor = execFileSync('tmux', [...tmux, 'display-message', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag}'], { encoding: 'utf8' }).trim();
      expect(cursor).toBe('0 1');
    } finally {
      execFileSync('tmux', [...tmux, 'kill-server'], { stdio: 'ignore' });
    }
  });

  it('restores the terminal when killed by a signal', async () => {
    const tmux = ['-L', `cfn-top-sig-${process.pid}`, '-f', '/dev/null'];
    const pane = () => execFileSync('tmux', [...tmux, 'capture-pane', '-p', '-t', 'top'], { encoding: 'utf8' });
    const pidFile = path.join(base, 'top.pid');
    const command = `sh -c 'echo $$ > ${pidFile}; exec ${process.execPath} ${HARNESS} top --state-dir ${stateDir}'; echo "top exited $?"; sleep 60`;
    execFileSync('tmux', [...tmux, 'new-session', '-d', '-s', 'top', '-x', '140', '-y', '30', command]);
    try {
      await waitFor(() => /RSS HISTORY/.test(pane()), 15_000, 'the top screen');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGTERM');
      const after = await waitFor(() => /top exited/.test(pane()) && pane(), 10_000, 'top to exit');
      expect(after).toMatch(/top exited 0/);
      expect(execFileSync('tmux', [...tmux, 'display-message', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag}'], { encoding: 'utf8' }).trim()).toBe('0 1');
    } finally {
      execFileSync('tmux', [...tmux, 'kill-server'], { stdio: 'ignore' });
    }
  });
});
