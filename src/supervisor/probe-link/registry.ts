/*
 * The unix socket every probe registers on (protocol: see src/probe/probe.cts). One connection per node
 * process: its registration is the process record, its closing is the process's exit, and it carries the
 * supervisor's requests to that process (request/reply with timeouts; see inspector.ts).
 */
import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { ProbeError, TimeoutError } from '../../common/errors.js';
import { claimSocketPath } from '../../common/statedir.js';

export const PROTOCOL_VERSION = 1;

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
}

export interface RegistryOptions {
  maxConnections?: number;
  maxLineBytes?: number;
  /** Requests awaiting a reply, per process. */
  maxPending?: number;
  /** Bytes queued towards one probe that is not reading; past it, sends are refused. */
  maxQueuedBytes?: number;
  /** A connection that has not registered by then is dropped. */
  registerTimeoutMs?: number;
}

export interface RequestOptions {
  timeoutMs: number;
  /** Progress messages re-arm the timeout, so it bounds silence rather than total duration. */
  onProgress?: (done: number, total: number) => void;
}

interface Pending {
  what: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  arm(): void;
  onProgress?: (done: number, total: number) => void;
}

interface Connection {
  socket: net.Socket;
  record?: ProcessRecord;
  exitCode?: number;
  pending: Map<number, Pending>;
}

const DEFAULTS: Required<RegistryOptions> = {
  maxConnections: 512,
  maxLineBytes: 64 * 1024,
  maxPending: 16,
  maxQueuedBytes: 1024 * 1024,
  registerTimeoutMs: 10_000,
};

export interface Registry {
  on(event: 'register', listener: (rec: ProcessRecord) => void): this;
  on(event: 'exit', listener: (pid: number, info: { code?: number }) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

export class Registry extends EventEmitter {
  private readonly byPid = new Map<number, Connection>();
  private readonly connections = new Set<Connection>();
  private nextId = 1;

  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
    private readonly opts: Required<RegistryOptions>,
  ) {
    super();
  }

  /** Listens on `socketPath` (0600). The parent folder must exist and should be private (0700). */
  static async listen(socketPath: string, options: RegistryOptions = {}): Promise<Registry> {
    const opts = { ...DEFAULTS, ...options };
    const st = await fs.lstat(socketPath).catch(() => undefined);
    if (st && !st.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
    await claimSocketPath(socketPath, `another process is listening on ${socketPath}`);
    const server = net.createServer();
    server.maxConnections = opts.maxConnections;
    const registry = new Registry(server, socketPath, opts);
    server.on('connection', (socket) => registry.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => registry.emit('error', err));
    await fs.chmod(socketPath, 0o600);
    return registry;
  }

  get(pid: number): ProcessRecord | undefined {
    return this.byPid.get(pid)?.record;
  }

  list(): ProcessRecord[] {
    return [...this.byPid.values()].flatMap((c) => (c.record ? [c.record] : []));
  }

  /** Fire-and-forget message to one probe; false when it is gone or not reading. */
  send(pid: number, msg: Record<string, unknown>): boolean {
    const conn = this.byPid.get(pid);
    if (!conn || !writable(conn.socket, this.opts.maxQueuedBytes)) return false;
    conn.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, ...msg })}\n`);
    return true;
  }

  /** A request the probe answers with `{"type":"reply","id",...}`; rejects with TimeoutError or ProbeError. */
  request<T>(pid: number, msg: Record<string, unknown>, ro: RequestOptions): Promise<T> {
    const what = typeof msg.method === 'string' ? msg.method : String(msg.type);
    const conn = this.byPid.get(pid);
    if (!conn) return Promise.reject(new ProbeError(pid, `${what}: process not registered`));
    if (conn.pending.size >= this.opts.maxPending) {
      return Promise.reject(new ProbeError(pid, `${what}: ${conn.pending.size} requests already pending`));
    }
    if (!writable(conn.socket, this.opts.maxQueuedBytes)) {
      return Promise.reject(new ProbeError(pid, `${what}: probe is not reading`));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        what,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: undefined as unknown as NodeJS.Timeout,
        arm() {
          clearTimeout(p.timer);
          p.timer = setTimeout(() => {
            conn.pending.delete(id);
            reject(new TimeoutError(pid, what, ro.timeoutMs));
          }, ro.timeoutMs);
          p.timer.unref();
        },
        ...(ro.onProgress ? { onProgress: ro.onProgress } : {}),
      };
      p.arm();
      conn.pending.set(id, p);
      conn.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, ...msg, id })}\n`);
    });
  }

  async close(): Promise<void> {
    for (const conn of this.connections) conn.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await fs.rm(this.socketPath, { force: true });
  }

  private accept(socket: net.Socket): void {
    const conn: Connection = { socket, pending: new Map() };
    this.connections.add(conn);
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
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(registerTimer);
      this.connections.delete(conn);
      for (const p of conn.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new ProbeError(conn.record?.pid ?? 0, `${p.what}: process exited`));
      }
      conn.pending.clear();
      const rec = conn.record;
      if (rec && this.byPid.get(rec.pid) === conn) {
        this.byPid.delete(rec.pid);
        this.emit('exit', rec.pid, conn.exitCode === undefined ? {} : { code: conn.exitCode });
      }
    });
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
      conn.record = rec;
      // A pid seen again while its old connection lingers is a reused pid: the old process is gone.
      this.byPid.get(rec.pid)?.socket.destroy();
      this.byPid.set(rec.pid, conn);
      this.emit('register', rec);
      return;
    }
    if (!conn.record) return;
    if (msg.type === 'exit' && typeof msg.code === 'number') {
      conn.exitCode = msg.code;
      return;
    }
    const p = typeof msg.id === 'number' ? conn.pending.get(msg.id) : undefined;
    if (!p) return;
    if (msg.type === 'progress') {
      p.arm();
      if (typeof msg.done === 'number' && typeof msg.total === 'number') p.onProgress?.(msg.done, msg.total);
      return;
    }
    if (msg.type !== 'reply') return;
    clearTimeout(p.timer);
    conn.pending.delete(msg.id as number);
    if (typeof msg.error === 'string') p.reject(new ProbeError(conn.record.pid, `${p.what}: ${msg.error}`));
    else p.resolve(msg.result);
  }
}

function writable(socket: net.Socket, maxQueuedBytes: number): boolean {
  return !socket.destroyed && socket.writable && socket.writableLength <= maxQueuedBytes;
}

function parseRecord(msg: Record<string, unknown>): ProcessRecord | undefined {
  const { pid, ppid, argv, url, heapSizeLimit, oldSpaceLimit, nodeVersion } = msg;
  if (msg.v !== PROTOCOL_VERSION) return undefined;
  if (!isPositiveInt(pid) || !Number.isInteger(ppid) || typeof heapSizeLimit !== 'number') return undefined;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string') || typeof nodeVersion !== 'string') {
    return undefined;
  }
  return {
    pid,
    ppid: ppid as number,
    argv: argv as string[],
    ...(typeof url === 'string' ? { url } : {}),
    heapSizeLimit,
    ...(typeof oldSpaceLimit === 'number' ? { oldSpaceLimit } : {}),
    nodeVersion,
    registeredAt: Date.now(),
  };
}

function isPositiveInt(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) > 0;
}

/** A socket file nobody answers on is left over from a dead supervisor; a live one is not ours to take. */
