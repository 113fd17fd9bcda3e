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

/**
 * The platform backends to measure side by side: BENCH_BACKENDS=linux,portable (default: the one this system
 * picks, unnamed). Each named backend's figures are labelled with its name.
 */
export function backends() {
  const named = (process.env.BENCH_BACKENDS ?? '').split(',').filter(Boolean);
  for (const b of named) if (b !== 'linux' && b !== 'portable') throw new Error(`BENCH_BACKENDS: linux or portable, not ${b}`);
  return named.length ? named : [undefined];
}

/** The supervisor's environment on `backend` (undefined: the one the system picks). */
export const backendEnv = (backend) => (backend ? { ...cleanEnv(), CFN_SUPERVISE_BACKEND: backend } : cleanEnv());

/** A figure's label with its backend's name, when backends are compared. */
export const withBackend = (label, backend) => (backend ? `${label} [${backend} backend]` : label);
