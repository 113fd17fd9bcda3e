// How the agent is started: the environment every node process of its tree inherits, and the spawn itself.
import { spawn, type ChildProcess } from 'node:child_process';

export interface LaunchOptions {
  heapLimitMb: number;
  reportDir: string;
  /** Absolute path of the probe to preload; absent with --no-inspect. */
  probePath?: string;
  registrySocket?: string;
}

export const REGISTRY_SOCKET_ENV = 'CFN_SUPERVISE_SOCKET';

/** NODE_OPTIONS splits on spaces unless a value is double-quoted, and unescapes \" and \\ inside quotes. */
export function quoteNodeOption(value: string): string {
  return /[\s"\\]/.test(value) ? `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"` : value;
}

export function agentNodeOptions(existing: string | undefined, opts: LaunchOptions): string {
  const ours = [
    `--max-old-space-size=${Math.round(opts.heapLimitMb)}`,
    '--report-on-fatalerror',
    `--report-directory=${quoteNodeOption(opts.reportDir)}`,
  ];
  if (opts.probePath) ours.push(`--require=${quoteNodeOption(opts.probePath)}`);
  // Ours go last: where the user set one of them too, the supervisor's value is the one that holds.
  return [existing?.trim(), ...ours].filter(Boolean).join(' ');
}

export function agentEnv(base: NodeJS.ProcessEnv, opts: LaunchOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, NODE_OPTIONS: agentNodeOptions(base.NODE_OPTIONS, opts) };
  if (opts.registrySocket) env[REGISTRY_SOCKET_ENV] = opts.registrySocket;
  else delete env[REGISTRY_SOCKET_ENV];
  return env;
}

/**
 * Spawns the agent as the leader of a new session and process group (detached): the whole group can be
 * signalled, and the agent keeps the user's terminal as its stdio without job control stopping it.
 * The supervisor's own umask (0077) is lifted for the fork so the agent creates files as it would unsupervised.
 */
export function spawnAgent(command: string, args: string[], env: NodeJS.ProcessEnv, userUmask: number): ChildProcess {
  const ours = process.umask(userUmask);
  try {
    return spawn(command, args, { stdio: 'inherit', detached: true, env });
  } finally {
    process.umask(ours);
  }
}
