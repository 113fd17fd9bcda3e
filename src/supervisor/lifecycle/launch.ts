// How the agent is started: the environment every node process of its tree inherits, and the spawn itself.
import { accessSync, closeSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { SpawnError } from '../../common/errors.js';
import { OUR_NODE_OPTIONS_ENV, userNodeOptions } from '../../config/node-options.js';
import type { Children } from '../proc/children.js';
import type { Libc } from '../../platform/libc.js';
import type { ProcessTree } from '../proc/tree.js';
import type { Terminal } from '../terminal/terminal.js';
import { RUN_MARK_ENV, platform, readStat } from '../../platform/index.js';
import { isNodeExecutable, underPermissionModel } from '../../common/node-argv.js';
import { BUN_LINK_ENV } from '../bun-link/bun-link.js';
import { AgentOutput } from '../output/agent-output.js';
import { ownPipeEnds } from '../output/pass-through.js';
import type { AgentLog } from '../output/agent-log.js';
import type { PlannedPipe } from '../output/plan.js';

export interface LaunchOptions {
  heapLimitMb: number;
  reportDir: string;
  /** Absolute path of the probe to preload; absent with --no-probe or --no-watch. */
  probePath?: string;
  /** --inspect: every node process opens its own inspector, on loopback and a free port, announced nowhere. */
  inspect?: boolean;
  registrySocket?: string;
  /** `unix://<socket>` every Bun process of the tree links its inspector to (bun-link.ts). */
  bunLink?: string;
  /** Where a supervisor started inside the agent's tree finds that its default state dir is taken. */
  stateDir: string;
  supervisorPid: number;
}

export const REGISTRY_SOCKET_ENV = 'CFN_SUPERVISE_SOCKET';
// Not CFN_SUPERVISE_STATE_DIR: that is the --state-dir option's own variable, which a nested supervisor would obey.
export const STATE_DIR_ENV = 'CFN_SUPERVISE_PARENT_STATE_DIR';
export const SUPERVISOR_PID_ENV = 'CFN_SUPERVISE_PID';

/** NODE_OPTIONS splits on spaces unless a value is double-quoted, and unescapes \" and \\ inside quotes. */
export function quoteNodeOption(value: string): string {
  return /[\s"\\]/.test(value) ? `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"` : value;
}

/** What the supervisor adds to every node process's options. */
export function ourNodeOptions(opts: LaunchOptions): string {
  const ours = [
    `--max-old-space-size=${Math.round(opts.heapLimitMb)}`,
    '--report-on-fatalerror',
    `--report-directory=${quoteNodeOption(opts.reportDir)}`,
  ];
  if (opts.probePath) ours.push(`--require=${quoteNodeOption(opts.probePath)}`);
  // publish-uid=http: the URL is served on the port's /json/list (and shown by `status`), never printed on stderr.
  if (opts.inspect) ours.push('--inspect=127.0.0.1:0', '--inspect-publish-uid=http');
  return ours.join(' ');
}

export function agentNodeOptions(existing: string | undefined, opts: LaunchOptions): string {
  // Ours go last: where the user set one of them too, the supervisor's value is the one that holds.
  return [existing?.trim(), ourNodeOptions(opts)].filter(Boolean).join(' ');
}

/**
 * Under node's permission model node cannot read the probe, and exits 1 before the app runs: the probe is left
 * out of a node command line that turns the model on, and out of every process when the user's NODE_OPTIONS
 * does. Such a process is seen by RSS alone (the model also closes the inspector). A node started further down
 * the tree with the model on cannot be known here: it inherits the probe and does not start.
 */
export function probeReadable(argv: readonly string[], userOptions: string | undefined): boolean {
  const [command, ...args] = argv;
  return !underPermissionModel(command !== undefined && isNodeExecutable(command) ? args : [], userOptions);
}

export function agentEnv(base: NodeJS.ProcessEnv, launch: LaunchOptions, argv: readonly string[] = []): NodeJS.ProcessEnv {
  const user = userNodeOptions(base);
  const { probePath, ...withoutProbe } = launch;
  const opts: LaunchOptions = probePath && probeReadable(argv, user) ? launch : withoutProbe;
  const ours = ourNodeOptions(opts);
  const env: NodeJS.ProcessEnv = {
    ...base,
    NODE_OPTIONS: agentNodeOptions(user, opts),
    [OUR_NODE_OPTIONS_ENV]: ours,
    [STATE_DIR_ENV]: opts.stateDir,
    [SUPERVISOR_PID_ENV]: String(opts.supervisorPid),
  };
  if (opts.registrySocket) env[REGISTRY_SOCKET_ENV] = opts.registrySocket;
  else delete env[REGISTRY_SOCKET_ENV];
  // Ours holds over one the user set, as our NODE_OPTIONS do: a Bun process links to one socket only.
  if (opts.bunLink) env[BUN_LINK_ENV] = opts.bunLink;
  return env;
}

/** What a shell would say before running `command`: not found (127) or found but not executable (126). */
export function checkCommand(command: string, pathVar: string | undefined): void {
  const candidates = command.includes('/') ? [command] : (pathVar ?? '').split(':').map((dir) => path.join(dir || '.', command));
  let found = false;
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      found = true;
      accessSync(file, constants.X_OK);
      return;
    } catch {
      // Not there, or not executable: keep looking as execvp does.
    }
  }
  throw new SpawnError(`${command}: ${found ? 'permission denied' : 'command not found'}`, !found);
}

export interface Agent {
  pid: number;
  /** With the pid, the agent's identity: read at spawn, before it can exit and its pid be reused. */
  startTime: number;
  /** When it was started: a run's clock starts here, even if the rest of the supervisor loads after. */
  startedAt: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its stops and continues (job control), for whoever runs it; set once it is known. */
  events: Partial<AgentEvents>;
  /** Its stdout and stderr where the supervisor reads them (not a terminal, --agent-log on). */
  output?: AgentOutput;
}

export interface AgentEvents {
  stopped(signal: NodeJS.Signals): void;
  continued(): void;
}

/**
 * Spawns the agent as the leader of a new process group in the supervisor's session: the group can be signalled
 * as a whole and can be given the terminal (job control, /dev/tty). The supervisor's own umask (0077) is lifted
 * for the spawn so the agent creates files as it would unsupervised.
 */
export function spawnAgent(
  libc: Libc,
  children: Children,
  argv: string[],
  env: NodeJS.ProcessEnv,
  userUmask: number,
  output?: AgentOutput,
): Agent {
  const [command] = argv;
  if (!command) throw new SpawnError('missing the agent command', true);
  checkCommand(command, env.PATH);
  const full = platform().withParentDeathSignal(argv);
  const passed = ownPipeEnds(output?.stdio ?? [0, 1, 2], { setBlocking: (fd) => libc.setBlocking(fd), reopenablePath: (fd) => platform().reopenablePath(fd) });
  const ours = process.umask(userUmask);
  let pid: number;
  try {
    pid = libc.spawn({
      file: full[0]!,
      argv: full,
      env: Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])),
      stdio: passed.stdio,
    });
  } finally {
    process.umask(ours);
    for (const fd of passed.opened) closeSync(fd);
  }
  if (pid < 0) throw new SpawnError(`${command}: cannot execute (errno ${-pid})`, false);
  const startTime = readStat(pid)?.startTime ?? 0;
  const events: Partial<AgentEvents> = {};
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    children.watch(pid, (status) => {
      if (status.exited) resolve(status.exited);
      else if (status.stopped) events.stopped?.(status.stopped);
      else if (status.continued) events.continued?.();
    });
  });
  return { pid, startTime, startedAt: Date.now(), exited, events, ...(output ? { output } : {}) };
}

/** A run's id: the supervisor's, then the run's number. */
export const runIdOf = (supervisorId: string, runNo: number): string => `${supervisorId}-${runNo}`;

export interface LauncherDeps {
  libc: Libc;
  children: Children;
  tree: ProcessTree;
  terminal?: Terminal;
  argv: string[];
  options: Omit<LaunchOptions, 'heapLimitMb' | 'inspect'>;
  heapLimitMb: number;
  inspect: boolean;
  userUmask: number;
  /** Where the agent's output is kept, and which of its streams are read for it; absent with --no-agent-log. */
  agentLog?: { log: AgentLog; plan: readonly PlannedPipe[]; onFailure: (why: string) => void };
}

/**
 * Starts the agent's runs: the environment, the spawn, the tree's new run and the terminal. Light on purpose:
 * the supervisor starts the first run with it before loading the rest of itself, so the agent does not wait.
 */
export class Launcher {
  constructor(private readonly deps: LauncherDeps) {}

  start(runId: string): Agent {
    const { libc, children, tree, terminal, argv, options, heapLimitMb, inspect, userUmask, agentLog } = this.deps;
    const output = agentLog && agentLog.plan.length > 0 ? new AgentOutput(libc, agentLog.plan, agentLog.log, runId, agentLog.onFailure) : undefined;
    let agent: Agent;
    try {
      const env = agentEnv(process.env, { ...options, heapLimitMb, inspect }, argv);
      // No subreaper brings orphans back: the run's mark in their environment finds them (proc/tree.ts).
      if (platform().marksRuns) env[RUN_MARK_ENV] = runId;
      agent = spawnAgent(libc, children, argv, env, userUmask, output);
    } finally {
      // Started or not, only the agent's tree may hold the pipes' write ends: they end when it does.
      output?.spawned();
    }
    tree.beginRun(agent.pid, platform().marksRuns ? runId : undefined);
    terminal?.handTo(agent.pid);
    return agent;
  }
}
