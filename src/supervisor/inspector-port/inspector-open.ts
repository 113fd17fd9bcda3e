// Opening a node process's inspector from outside: check that the process may be signalled at all (ours,
// node, running, in our network namespace), send SIGUSR1, and find the port it really opened from /proc (9229
// may be taken, --inspect-port may say otherwise), queueing behind another attach that holds 9229.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from '../../common/errors.js';
import { within } from '../../common/deadline.js';
import { isNodeExecutable } from '../../common/node-argv.js';
import { connectHost, executableOf, holderOf, listenersOf, listenersOnPort, platform, type TcpListener } from '../../platform/index.js';
import type { InspectorPortOptions } from './inspector-port.js';

/** Where SIGUSR1 opens the inspector unless the process was started with --inspect-port. */
export const DEFAULT_INSPECTOR_PORT = 9229;
const POLL_MS = 20;

export interface CdpTarget {
  type?: string;
  webSocketDebuggerUrl?: string;
}

/** The part of chrome-remote-interface used here (it ships no types). */
export interface CdpClient {
  send(method: string, params?: object): Promise<unknown>;
  on(event: string, listener: (params: never) => void): void;
  removeListener(event: string, listener: (params: never) => void): void;
  close(): Promise<void>;
}
interface CdpModule {
  (options: { host: string; port: number; local: boolean; target: string }): Promise<CdpClient>;
  List(options: { host: string; port: number }): Promise<CdpTarget[]>;
}

// Loaded on first use: it sets a process-wide DNS preference (ipv4first) when imported, which a supervisor
// that never attaches this way should not get.
let cdpModule: CdpModule | undefined;
/** chrome-remote-interface, loaded on the first attach: it switches the whole process to IPv4-first DNS. */
export const cdp = (): CdpModule => (cdpModule ??= createRequire(import.meta.url)('chrome-remote-interface') as CdpModule);


export type TargetProblem = 'gone' | 'not-owned' | 'not-node' | 'stopped' | 'other-namespace';

/** The process cannot be attached to: gone (404), or not one we may or can open (409). */
export class TargetRefused extends HttpError {
  override readonly name = 'TargetRefused';
  constructor(
    readonly pid: number,
    readonly problem: TargetProblem,
    message: string,
  ) {
    super(problem === 'gone' ? 404 : 409, `pid ${pid}: ${message}`);
  }
}

/** The process is a node process of ours, but its inspector did not open: the port is taken, or no answer. */
export class InspectorUnavailable extends HttpError {
  override readonly name = 'InspectorUnavailable';
  constructor(
    readonly pid: number,
    readonly problem: 'port-in-use' | 'not-opened',
    message: string,
  ) {
    super(409, `pid ${pid}: ${message}`);
  }
}

/** Refuses, before any signal is sent, what must not get one: SIGUSR1 ends a process that is not node. */
export function checkTarget(pid: number): void {
  const status = platform().targetStatus(pid);
  if (!status) throw new TargetRefused(pid, 'gone', 'no such process');
  const { comm, state, uid } = status;
  if (state === 'Z' || state === 'X') throw new TargetRefused(pid, 'gone', `${comm} has exited`);
  const me = process.geteuid?.();
  if (me !== undefined && uid !== me) {
    throw new TargetRefused(pid, 'not-owned', `${comm} belongs to uid ${uid}, not to you (uid ${me}); only your own processes can be attached to`);
  }
  const exe = executableOf(pid);
  if (!isNodeExecutable(exe)) {
    throw new TargetRefused(pid, 'not-node', `${comm} is not a node process (it runs ${exe || 'no executable'})`);
  }
  if (state === 'T' || state === 't') throw new TargetRefused(pid, 'stopped', `${comm} is stopped; continue it (kill -CONT ${pid}) first`);
  if (!platform().sameNetwork(pid)) {
    throw new TargetRefused(pid, 'other-namespace', `${comm} runs in another network namespace (a container?): its 127.0.0.1 is not ours`);
  }
}

export interface Endpoint {
  host: string;
  port: number;
  inode: string;
  wsUrl: string;
}

/** Which of these listeners is a node inspector: the one whose /json/list names a node target. */
async function findInspector(listeners: TcpListener[], timeoutMs: number): Promise<Endpoint | undefined> {
  const probes = listeners.map(async (l): Promise<Endpoint | undefined> => {
    const host = connectHost(l.address);
    try {
      // An app's own server may answer slowly or never: its answer is not waited for beyond the bound.
      const targets = await within(cdp().List({ host, port: l.port }), timeoutMs, () => new Error('no answer'));
      const node = targets.find((t) => t.type === 'node' && t.webSocketDebuggerUrl);
      return node ? { host, port: l.port, inode: l.inode, wsUrl: node.webSocketDebuggerUrl! } : undefined;
    } catch {
      return undefined;
    }
  });
  return (await Promise.all(probes)).find((e) => e !== undefined);
}

function gone(pid: number): TargetRefused {
  return new TargetRefused(pid, 'gone', 'the process exited');
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGUSR1');
  } catch {
    throw gone(pid);
  }
}

/**
 * The inspector of `pid`: the one already open, or the one SIGUSR1 opens. While the default port is held by
 * another process, node fails to open it (and says so on its stderr); the signal is sent again once the port is
 * free, so two attaches at the same time both succeed, one after the other.
 */
export async function openInspector(pid: number, opts: InspectorPortOptions): Promise<{ endpoint: Endpoint; openedByApp: boolean }> {
  const deadline = Date.now() + opts.openTimeoutMs;
  const probeMs = Math.min(opts.callTimeoutMs, 1000);
  const before = listenersOf(pid);
  if (!before) throw gone(pid);
  const existing = await findInspector(before, probeMs);
  if (existing) return { endpoint: existing, openedByApp: true };
  const seen = new Set(before.map((l) => l.inode));
  const portHolder = (own: ReadonlySet<string>) => listenersOnPort(DEFAULT_INSPECTOR_PORT).find((l) => !own.has(l.inode));
  // Looked at before the signal too: node may fail on a held port and the port be freed before the first look.
  let heldBy = portHolder(seen);
  signal(pid);
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const now = listenersOf(pid);
    if (!now) throw gone(pid);
    const fresh = now.filter((l) => !seen.has(l.inode));
    if (fresh.length > 0) {
      const found = await findInspector(fresh, probeMs);
      if (found) return { endpoint: found, openedByApp: false };
      for (const l of fresh) seen.add(l.inode);
    }
    const holder = portHolder(new Set(now.map((l) => l.inode)));
    if (!holder && heldBy) signal(pid);
    heldBy = holder;
  }
  if (heldBy) {
    const holderPid = holderOf(heldBy.inode);
    const who = holderPid === undefined ? 'another process' : `pid ${holderPid}`;
    throw new InspectorUnavailable(
      pid,
      'port-in-use',
      `cannot open its inspector: port ${DEFAULT_INSPECTOR_PORT} (node's default) is held by ${who}; free it, or start the process with --inspect-port=0`,
    );
  }
  throw new InspectorUnavailable(
    pid,
    'not-opened',
    `its inspector did not open within ${opts.openTimeoutMs} ms (busy outside JavaScript, or it listens to SIGUSR1 itself?); if busy, it opens on 127.0.0.1 once the process runs again`,
  );
}

