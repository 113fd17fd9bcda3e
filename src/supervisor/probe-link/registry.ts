/*
 * The unix socket every probe registers on (protocol: see src/probe/probe.cts). One connection per isolate: a
 * node process's main thread and each of its worker threads (an isolate with its own heap and limit). Its
 * registration is the isolate's record, its closing is the isolate's end, and it carries the supervisor's
 * requests to that isolate (request/reply with timeouts; see sessions.ts).
 *
 * Trusts nothing: the socket is owner-only, and each peer is checked with SO_PEERCRED as it connects (our uid,
 * a member of the supervised tree, at most maxPerProcess connections open from that pid) and again as it
 * registers (the pid it claims is its own). A live registration is never replaced. Rejected peers are closed at once, so they hold
 * no slot; each rejection is reported as a 'reject' event.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { ProbeBusy, ProbeError } from '../../common/errors.js';
import { PendingRequests, type RequestOptions } from './pending.js';
import { OwnerOnlySocket, checkPeer, type Rejection } from './tree-socket.js';

export type { Rejection } from './tree-socket.js';
import { isolateKey } from './isolate.js';

export const PROTOCOL_VERSION = 2;

export interface ProcessRecord {
  pid: number;
  ppid: number;
  argv: string[];
  /** Only when the app opened an inspector itself; the probe never opens one. */
  url?: string;
  heapSizeLimit: number;
  /** From --max-old-space-size; heap pressure is measured against it, not heapSizeLimit. */
  oldSpaceLimit?: number;
  nodeVersion: string;
  registeredAt: number;
  /** A worker thread's threadId; absent for the main thread. */
  thread?: number;
}


export interface RegistryOptions {
  maxConnections?: number;
  /** Connections open from one pid: its main thread and its worker threads. */
  maxPerProcess?: number;
  maxLineBytes?: number;
  /** Requests awaiting a reply, per process. */
  maxPending?: number;
  /** Bytes queued towards one probe that is not reading; past it, sends are refused. */
  maxQueuedBytes?: number;
  /** A connection that has not registered by then is dropped. */
  registerTimeoutMs?: number;
  /** Whether a pid belongs to the supervised tree; a peer that does not is turned away. */
  isMember?: (pid: number) => boolean;
}

interface Connection {
  socket: net.Socket;
  key?: string;
  peerPid: number;
  record?: ProcessRecord;
  exitCode?: number;
  pending: PendingRequests;
}

const DEFAULTS: Required<RegistryOptions> = {
  maxConnections: 512,
  maxPerProcess: 65,
  maxLineBytes: 64 * 1024,
  maxPending: 16,
  maxQueuedBytes: 1024 * 1024,
  registerTimeoutMs: 10_000,
  isMember: () => true,
};

/** Unsolicited messages of a registered probe, passed on as 'notice' events. */
const NOTICES = new Set(['post-gc', 'sampling', 'worker-oom']);

interface RegistryEvents {
  register: [rec: ProcessRecord];
  exit: [pid: number, info: { code?: number; thread?: number }];
  notice: [pid: number, msg: Record<string, unknown>, thread: number];
  reject: [r: Rejection];
  error: [err: Error];
}

export class Registry extends EventEmitter<RegistryEvents> {
  /** Registered connections by isolateKey. */
  private readonly byIsolate = new Map<string, Connection>();
  /** Every open connection by the pid at its other end, registered or not. */
  private readonly byPeer = new Map<number, Set<Connection>>();
  private readonly uid = process.getuid?.() ?? -1;
  private nextId = 1;

  private readonly listener: OwnerOnlySocket;

  private constructor(
    readonly socketPath: string,
    private readonly opts: Required<RegistryOptions>,
  ) {
    super();
    this.listener = new OwnerOnlySocket(socketPath, opts.maxConnections, (socket) => this.accept(socket), (err) => this.emit('error', err));
  }

  /** Listens on `socketPath` (0600). The parent folder must exist and should be private (0700). */
  static async listen(socketPath: string, options: RegistryOptions = {}): Promise<Registry> {
    const registry = new Registry(socketPath, { ...DEFAULTS, ...options });
    await registry.listener.listen();
    return registry;
  }

  /** Listens again when the socket file was removed (see OwnerOnlySocket); true when it did. */
  keep(): Promise<boolean> {
    return this.listener.keep();
  }

  get(pid: number, thread = 0): ProcessRecord | undefined {
    return this.byIsolate.get(isolateKey(pid, thread))?.record;
  }

  list(): ProcessRecord[] {
    return [...this.byIsolate.values()].flatMap((c) => (c.record ? [c.record] : []));
  }

  /** Fire-and-forget message to one probe; false when it is gone or not reading. */
  send(pid: number, msg: Record<string, unknown>, thread = 0): boolean {
    const conn = this.byIsolate.get(isolateKey(pid, thread));
    if (!conn || !writable(conn.socket, this.opts.maxQueuedBytes)) return false;
    conn.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, ...msg })}\n`);
    return true;
  }

  /** A request the probe answers with `{"type":"reply","id",...}`; rejects with TimeoutError or ProbeError. */
  request<T>(pid: number, msg: Record<string, unknown>, ro: RequestOptions, thread = 0): Promise<T> {
    const what = String(msg.type);
    const conn = this.byIsolate.get(isolateKey(pid, thread));
    if (!conn) return Promise.reject(new ProbeError(pid, `${what}: process not registered`));
    if (conn.pending.size >= this.opts.maxPending) {
      return Promise.reject(new ProbeBusy(pid, conn.pending.size));
    }
    if (!writable(conn.socket, this.opts.maxQueuedBytes)) {
      return Promise.reject(new ProbeError(pid, `${what}: probe is not reading`));
    }
    const id = this.nextId++;
    const reply = conn.pending.add<T>(id, what, ro);
    conn.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, ...msg, id })}\n`);
    return reply;
  }

  /** Every request still waiting for a probe fails at once; the connections stay. */
  abortPending(why: string): void {
    for (const conns of this.byPeer.values()) for (const conn of conns) conn.pending.failAll(why);
  }

  /** Never waits for a probe: requests still pending fail at once. */
  async close(): Promise<void> {
    this.abortPending('the supervisor is stopping');
    for (const conns of this.byPeer.values()) for (const conn of conns) conn.socket.destroy();
    await this.listener.close();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    const { maxPerProcess } = this.opts;
    const full = (pid: number) => ((this.byPeer.get(pid)?.size ?? 0) >= maxPerProcess ? `${maxPerProcess} connections from this pid are already open` : undefined);
    const peer = checkPeer(socket, { uid: this.uid, full, isMember: this.opts.isMember });
    if ('rejection' in peer) {
      this.turnAway(socket, peer.rejection);
      return;
    }
    const conn: Connection = { socket, peerPid: peer.pid, pending: new PendingRequests(peer.pid) };
    const peers = this.byPeer.get(peer.pid) ?? new Set<Connection>();
    this.byPeer.set(peer.pid, peers.add(conn));
    socket.setEncoding('utf8');
    const registerTimer = setTimeout(() => socket.destroy(), this.opts.registerTimeoutMs);
    registerTimer.unref();
    // Framing duplicated in the probe on purpose (see there): a line over the limit is dropped whole.
    let buffer = '';
    let skipping = false;
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (skipping) skipping = false;
        else if (line.length <= this.opts.maxLineBytes) this.handleLine(conn, line, registerTimer);
      }
      if (buffer.length > this.opts.maxLineBytes) {
        buffer = '';
        skipping = true;
      }
    });
    socket.on('close', () => {
      clearTimeout(registerTimer);
      peers.delete(conn);
      if (peers.size === 0 && this.byPeer.get(conn.peerPid) === peers) this.byPeer.delete(conn.peerPid);
      conn.pending.failAll('process exited');
      const rec = conn.record;
      if (rec && conn.key && this.byIsolate.get(conn.key) === conn) {
        this.byIsolate.delete(conn.key);
        this.emit('exit', rec.pid, { ...(conn.exitCode === undefined ? {} : { code: conn.exitCode }), ...(rec.thread ? { thread: rec.thread } : {}) });
      }
    });
  }

  private turnAway(socket: net.Socket, r: Rejection): void {
    socket.destroy();
    this.emit('reject', r);
  }

  private handleLine(conn: Connection, line: string, registerTimer: NodeJS.Timeout): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'register') {
      const rec = parseRecord(msg);
      if (!rec || conn.record) return;
      clearTimeout(registerTimer);
      if (rec.pid !== conn.peerPid) {
        this.turnAway(conn.socket, { reason: `claims pid ${rec.pid}`, peerPid: conn.peerPid, claimedPid: rec.pid });
        return;
      }
      const key = isolateKey(rec.pid, rec.thread);
      if (this.byIsolate.has(key)) {
        this.turnAway(conn.socket, { reason: `${key} is already registered`, peerPid: conn.peerPid, claimedPid: rec.pid });
        return;
      }
      conn.record = rec;
      conn.key = key;
      this.byIsolate.set(key, conn);
      this.emit('register', rec);
      return;
    }
    if (!conn.record) return;
    if (msg.type === 'exit' && typeof msg.code === 'number') {
      conn.exitCode = msg.code;
      return;
    }
    if (typeof msg.type === 'string' && NOTICES.has(msg.type) && msg.id === undefined) {
      this.emit('notice', conn.record.pid, msg, conn.record.thread ?? 0);
      return;
    }
    if (typeof msg.id !== 'number') return;
    if (msg.type === 'progress') conn.pending.progress(msg.id, msg.done, msg.total);
    else if (msg.type === 'reply') conn.pending.settle(msg.id, msg.error, msg.result);
  }
}

function writable(socket: net.Socket, maxQueuedBytes: number): boolean {
  return !socket.destroyed && socket.writable && socket.writableLength <= maxQueuedBytes;
}

function parseRecord(msg: Record<string, unknown>): ProcessRecord | undefined {
  const { pid, ppid, argv, url, heapSizeLimit, oldSpaceLimit, nodeVersion, thread } = msg;
  if (msg.v !== PROTOCOL_VERSION) return undefined;
  if (!isPositiveInt(pid) || !Number.isInteger(ppid) || typeof heapSizeLimit !== 'number') return undefined;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string') || typeof nodeVersion !== 'string') {
    return undefined;
  }
  if (thread !== undefined && !isPositiveInt(thread)) return undefined;
  return {
    pid,
    ppid: ppid as number,
    argv: argv,
    ...(typeof url === 'string' ? { url } : {}),
    heapSizeLimit,
    ...(typeof oldSpaceLimit === 'number' ? { oldSpaceLimit } : {}),
    nodeVersion,
    registeredAt: Date.now(),
    ...(thread === undefined ? {} : { thread }),
  };
}

export function isPositiveInt(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) > 0;
}
