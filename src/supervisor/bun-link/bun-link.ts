/*
 * The unix socket Bun processes link their inspector to. A Bun process started with
 * BUN_INSPECT_CONNECT_TO=unix://<path> connects to it as it starts (so does every Bun process it starts: the
 * variable is inherited), silently, and then answers the WebKit (JavaScriptCore) inspector protocol: frames of
 * a 4-byte big-endian length and that many bytes of UTF-8 JSON. It sends nothing until asked, so a link is
 * known by its peer alone: its pid from SO_PEERCRED, its argv and parent from /proc.
 *
 * Trusts nothing: the socket is owner-only and each peer is checked as the probes' registry checks its own
 * (peer.ts). A link that breaks the framing (a frame over the size allowed) is closed; Bun itself carries on
 * unharmed (measured: a closed link, garbage frames, an absurd length and an unparseable message all left a Bun
 * 1.4.5 process's output and exit code as they were), and the process is watched through /proc alone.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { ProbeBusy, ProbeError } from '../../common/errors.js';
import { readArgv, readStat } from '../../platform/index.js';
import { PendingRequests, type RequestOptions } from '../probe-link/pending.js';
import { OwnerOnlySocket, checkPeer, type Rejection } from '../probe-link/tree-socket.js';

/** The variable a Bun process reads its inspector link from. */
export const BUN_LINK_ENV = 'BUN_INSPECT_CONNECT_TO';

export interface BunRecord {
  pid: number;
  ppid: number;
  argv: string[];
  linkedAt: number;
}

export interface BunLinksOptions {
  maxConnections?: number;
  /** The largest frame an ordinary reply or event may be. */
  maxFrameBytes?: number;
  /** The largest frame while a heap snapshot is awaited: a snapshot comes back whole, as one JSON string. */
  maxSnapshotBytes?: number;
  /** Requests awaiting a reply, per process. */
  maxPending?: number;
  /** Bytes queued towards one process that is not reading; past it, requests are refused. */
  maxQueuedBytes?: number;
  isMember?: (pid: number) => boolean;
}

const DEFAULTS: Required<BunLinksOptions> = {
  maxConnections: 512,
  maxFrameBytes: 16 * 1024 * 1024,
  // Node cannot make a string of more than ~512 MiB of one-byte characters: a larger snapshot could not be read.
  maxSnapshotBytes: 512 * 1024 * 1024,
  maxPending: 16,
  maxQueuedBytes: 1024 * 1024,
  isMember: () => true,
};

const HEADER_BYTES = 4;

export class FrameError extends Error {}

/**
 * Cuts a byte stream into frames. Chunks may split anything, the length included; a frame announced over
 * `maxBytes()` throws FrameError (the stream cannot be trusted after it).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: () => number) {}

  push(chunk: Buffer): string[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: string[] = [];
    for (;;) {
      if (this.buffered < HEADER_BYTES) return frames;
      const head = this.chunks[0]!.length >= HEADER_BYTES ? this.chunks[0]! : this.join();
      const length = head.readUInt32BE(0);
      if (length > this.maxBytes()) throw new FrameError(`a frame of ${length} bytes (at most ${this.maxBytes()} allowed)`);
      if (this.buffered < HEADER_BYTES + length) return frames;
      const all = this.join();
      frames.push(all.toString('utf8', HEADER_BYTES, HEADER_BYTES + length));
      const rest = all.subarray(HEADER_BYTES + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  private join(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }
}

export function frame(msg: object): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

interface Link {
  socket: net.Socket;
  record: BunRecord;
  pending: PendingRequests;
  /** Snapshots awaited: while any is, frames up to maxSnapshotBytes are accepted. */
  snapshots: number;
}

interface BunLinksEvents {
  link: [rec: BunRecord];
  exit: [pid: number];
  /** An inspector event (a message with a method and no id), e.g. Heap.garbageCollected. */
  event: [pid: number, method: string, params: Record<string, unknown>];
  /** The link broke its framing and was closed: the process is watched through /proc alone from now on. */
  broken: [pid: number, why: string];
  reject: [r: Rejection];
  error: [err: Error];
}

export class BunLinks extends EventEmitter<BunLinksEvents> {
  private readonly byPid = new Map<number, Link>();
  private readonly uid = process.getuid?.() ?? -1;
  private nextId = 1;

  private readonly listener: OwnerOnlySocket;

  private constructor(
    readonly socketPath: string,
    private readonly opts: Required<BunLinksOptions>,
  ) {
    super();
    this.listener = new OwnerOnlySocket(socketPath, opts.maxConnections, (socket) => this.accept(socket), (err) => this.emit('error', err));
  }

  /** Listens on `socketPath` (0600). The parent folder must exist and should be private (0700). */
  static async listen(socketPath: string, options: BunLinksOptions = {}): Promise<BunLinks> {
    const links = new BunLinks(socketPath, { ...DEFAULTS, ...options });
    await links.listener.listen();
    return links;
  }

  /** Listens again when the socket file was removed (see OwnerOnlySocket); true when it did. */
  keep(): Promise<boolean> {
    return this.listener.keep();
  }

  /** What a Bun process of the tree must find in its environment to link to this socket. */
  get address(): string {
    return `unix://${this.socketPath}`;
  }

  get(pid: number): BunRecord | undefined {
    return this.byPid.get(pid)?.record;
  }

  list(): BunRecord[] {
    return [...this.byPid.values()].map((l) => l.record);
  }

  /**
   * One inspector call; rejects with TimeoutError, ProbeBusy or ProbeError (the inspector's own error message).
   * `snapshot`: the reply may be as large as maxSnapshotBytes.
   */
  call<T>(pid: number, method: string, params: Record<string, unknown>, ro: RequestOptions & { snapshot?: boolean }): Promise<T> {
    const link = this.byPid.get(pid);
    if (!link) return Promise.reject(new ProbeError(pid, `${method}: no inspector link`));
    if (link.pending.size >= this.opts.maxPending) return Promise.reject(new ProbeBusy(pid, link.pending.size));
    const { socket } = link;
    if (socket.destroyed || !socket.writable || socket.writableLength > this.opts.maxQueuedBytes) {
      return Promise.reject(new ProbeError(pid, `${method}: the process is not reading its inspector link`));
    }
    const id = this.nextId++;
    const reply = link.pending.add<T>(id, method, ro);
    socket.write(frame({ id, method, params }));
    if (!ro.snapshot) return reply;
    link.snapshots++;
    const done = () => link.snapshots--;
    reply.then(done, done);
    return reply;
  }

  /** Closes one link (the process goes on, unwatched from inside). */
  drop(pid: number): void {
    this.byPid.get(pid)?.socket.destroy();
  }

  /** Every request still waiting fails at once; the links stay. */
  abortPending(why: string): void {
    for (const link of this.byPid.values()) link.pending.failAll(why);
  }

  async close(): Promise<void> {
    this.abortPending('the supervisor is stopping');
    for (const link of this.byPid.values()) link.socket.destroy();
    await this.listener.close();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    const peer = checkPeer(socket, { uid: this.uid, full: (pid) => (this.byPid.has(pid) ? 'a connection from this pid is already open' : undefined), isMember: this.opts.isMember });
    if ('rejection' in peer) {
      socket.destroy();
      this.emit('reject', peer.rejection);
      return;
    }
    const { pid } = peer;
    const record: BunRecord = { pid, ppid: readStat(pid)?.ppid ?? 0, argv: readArgv(pid) ?? [], linkedAt: Date.now() };
    const link: Link = { socket, record, pending: new PendingRequests(pid), snapshots: 0 };
    this.byPid.set(pid, link);
    const reader = new FrameReader(() => (link.snapshots > 0 ? this.opts.maxSnapshotBytes : this.opts.maxFrameBytes));
    socket.on('data', (chunk: Buffer) => {
      let frames: string[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.emit('broken', pid, (err as Error).message);
        socket.destroy();
        return;
      }
      for (const f of frames) this.handle(link, f);
    });
    socket.on('close', () => {
      link.pending.failAll('the inspector link closed');
      if (this.byPid.get(pid) !== link) return;
      this.byPid.delete(pid);
      this.emit('exit', pid);
    });
    this.emit('link', record);
  }

  private handle(link: Link, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const { id, method, params, error, result } = msg as Record<string, unknown>;
    if (typeof id === 'number') {
      const message = error && typeof error === 'object' ? (error as { message?: unknown }).message : undefined;
      const why = error ? (typeof message === 'string' ? message : 'the inspector refused the call') : undefined;
      link.pending.settle(id, why, result);
    } else if (typeof method === 'string') {
      this.emit('event', link.record.pid, method, params && typeof params === 'object' ? (params as Record<string, unknown>) : {});
    }
  }
}
