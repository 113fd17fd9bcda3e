// cfn-supervise as a user runs it: the built CLI in its own process group, a private state dir, its
// stderr in a file (read when something goes wrong), stopped by SIGTERM like a terminal would.
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, descendants, killAll } from './proc.mjs';
import { cleanEnv, readJsonl, waitFor, within } from './scope.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The installed command (a shell launcher in front of dist/cli/main.cjs), run as a user's shell runs it. */
export const cli = path.join(root, 'bin/cfn-supervise');
export const agent = (name) => path.join(root, 'benchmarks/agents', name);

/** Starts `cfn-supervise <options> -- <command>` in scope, in `env` (default: cleanEnv()). */
export function supervise(scope, options, command, { env = cleanEnv() } = {}) {
  const stateDir = path.join(scope.tempDir('cfn-bench-state-'), 'state');
  const errFile = path.join(path.dirname(stateDir), 'stderr.log');
  const err = openSync(errFile, 'a');
  const child = spawn(cli, ['--state-dir', stateDir, ...options, '--', ...command], {
    env,
    detached: true,
    stdio: ['ignore', err, err],
  });
  scope.track(child.pid);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const sup = {
    pid: child.pid,
    stateDir,
    exited,
    stderr: () => readFileSync(errFile, 'utf8'),
    alerts: () => readJsonl(path.join(stateDir, 'alerts.jsonl')),
    runs: () => readJsonl(path.join(stateDir, 'runs.jsonl')),
    log: () => readJsonl(path.join(stateDir, 'supervisor.log')),
    /** pids the supervisor has registered a probe for (supervisor.log), in order. */
    registered: () => sup.log().filter((l) => l.msg === 'node process registered'),
    /** SIGTERM as from a terminal, SIGKILL to whatever of the tree is left after graceMs. */
    async stop(graceMs = 15_000) {
      const tree = descendants(child.pid);
      if (alive(child.pid)) child.kill('SIGTERM');
      await within(exited, graceMs);
      killAll([child.pid, ...tree, ...descendants(child.pid)]);
      return exited;
    },
    /** Runs a subcommand (status, capture …) against this supervisor's state dir; resolves with stdout. */
    command(args, { timeoutMs = 120_000 } = {}) {
      return new Promise((resolve, reject) => {
        const c = spawn(cli, [args[0], '--state-dir', stateDir, ...args.slice(1)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let errText = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (errText += d));
        const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
        c.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve(out);
          else reject(new Error(`cfn-supervise ${args[0]} exited ${code}: ${errText.trim()}`));
        });
      });
    },
  };
  scope.defer(() => sup.stop());
  return sup;
}

/** Waits until n node processes of the tree have registered their probe with the supervisor. */
export const waitRegistered = (sup, n, timeoutMs = 60_000) =>
  waitFor(() => sup.registered().length >= n && sup.registered(), { timeoutMs, periodMs: 100, label: `${n} probe registration(s)` });
