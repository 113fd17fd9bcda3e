// A real supervisor for the diagnostics and check tests: the built CLI supervising a fixture (it and its agent's
// tree ended after the test by test/helpers/cli.ts's scope), and the commands under test run from the build in a
// process of their own, as the CLI will run them (a CfnError thrown becomes one line and its exit code, as in
// program.ts).
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ControlClient } from '../../src/cli/client.js';
import type { ProcessView, StatusView } from '../../src/supervisor/control/protocol.js';
import { CLI, ROOT, execFileTracked, spawnTracked, tempDir } from '../helpers/cli.js';

export interface Supervisor {
  child: ChildProcess;
  base: string;
  stateDir: string;
  client: ControlClient;
  stderr(): string;
}

export function startSupervisor(flags: string[], agent: string[]): Supervisor {
  const base = tempDir('cfn-diagnostics-');
  const stateDir = path.join(base, 'state');
  const child = spawnTracked(process.execPath, [CLI, '--state-dir', stateDir, '--min-free', '0', '--interval', '200', ...flags, '--', ...agent], {
    cwd: base,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return { child, base, stateDir, client: new ControlClient(stateDir), stderr: () => Buffer.concat(err).toString('utf8') };
}

/** Waits until the control socket answers and the agent has been sampled with a heap. */
export async function untilWatched(s: Supervisor, timeoutMs = 30_000): Promise<{ status: StatusView; agent: ProcessView }> {
  const deadline = Date.now() + timeoutMs;
  // What the supervisor last said of its processes: the failure names it.
  let seen = 'no answer';
  for (;;) {
    try {
      const status = await s.client.request<StatusView>('GET', '/status', { timeoutMs: 2000 });
      const { processes } = await s.client.request<{ processes: ProcessView[] }>('GET', '/processes', { timeoutMs: 2000 });
      seen = JSON.stringify(processes);
      const agent = processes.find((p) => p.pid === status.agent.pid && p.heap_used_mb !== undefined);
      if (agent) return { status, agent };
    } catch {
      // Not listening yet.
    }
    if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`the supervisor never watched its agent: ${s.stderr()}; its processes: ${seen}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Calls `fn(...args)` of a built CLI module (dist/cli/<module>.js) in a node process of its own. */
export function runCommand(module: string, fn: string, args: unknown[]): Promise<Ran> {
  const url = new URL(`file://${path.join(ROOT, 'dist/cli', `${module}.js`)}`).href;
  const script = [
    `const m = await import(${JSON.stringify(url)});`,
    `try { process.exitCode = await m[${JSON.stringify(fn)}](...${JSON.stringify(args)}); }`,
    "catch (err) { process.stderr.write(`cfn-supervise: ${err.message.split('\\n')[0]}\\n`); process.exitCode = err.exitCode ?? 1; }",
  ].join('\n');
  return new Promise((resolve) => {
    execFileTracked(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}
