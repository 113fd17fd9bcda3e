// The owner-only unix sockets the processes of the tree connect to (the probes' registry, the Bun inspector
// links): listening on one, and who is at the other end of a connection (SO_PEERCRED) and whether it may stay.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { libc } from '../../platform/libc.js';
import { claimSocketPath, ensurePrivateDir, isSameFile } from '../../common/statedir.js';

/**
 * An owner-only (0600) listening socket that listens again when its file is no longer the one it bound (the
 * state dir's contents removed under a running supervisor): processes started later find it, those connected
 * keep their connections. The parent folder must exist and should be private (0700).
 */
export class OwnerOnlySocket {
  private server?: net.Server;
  /** The socket file this one bound, to tell when it is gone or replaced. */
  private bound?: { dev: number; ino: number };
  private keeping?: Promise<boolean>;
  private closed = false;

  constructor(
    readonly socketPath: string,
    private readonly maxConnections: number,
    private readonly onConnection: (socket: net.Socket) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  async listen(): Promise<void> {
    const st = await fs.lstat(this.socketPath).catch(() => undefined);
    if (st && !st.isSocket()) throw new Error(`${this.socketPath} exists and is not a socket`);
    await this.claimAndBind();
  }

  /** True when it listened again. */
  async keep(): Promise<boolean> {
    if (this.closed || !this.bound || this.keeping || isSameFile(this.socketPath, this.bound)) return false;
    this.keeping = this.bindAgain();
    try {
      return await this.keeping;
    } finally {
      this.keeping = undefined;
    }
  }

  async close(): Promise<void> {
    // Never bound again once closing; a bind under way ends first, so that its listener is the one closed here.
    this.closed = true;
    await this.keeping?.catch(() => false);
    const { server, bound } = this;
    this.bound = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Only our own socket: one that replaced it is someone else's.
    if (bound && isSameFile(this.socketPath, bound)) await fs.rm(this.socketPath, { force: true });
  }

  private async bindAgain(): Promise<boolean> {
    ensurePrivateDir(path.dirname(this.socketPath));
    // Closing a unix listener removes its socket file: the old one goes before the new one is bound.
    this.server?.close();
    await this.claimAndBind();
    return true;
  }

  private async claimAndBind(): Promise<void> {
    await claimSocketPath(this.socketPath, `another process is listening on ${this.socketPath}`);
    const server = net.createServer();
    server.maxConnections = this.maxConnections;
    server.on('connection', this.onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', this.onError);
    this.server = server;
    this.bound = await fs.lstat(this.socketPath);
    await fs.chmod(this.socketPath, 0o600);
  }
}

/** A peer turned away: who it really is (SO_PEERCRED), what it claimed, and why. */
export interface Rejection {
  reason: string;
  peerPid?: number;
  peerUid?: number;
  claimedPid?: number;
}

export interface PeerRules {
  /** Our uid: a peer of another user is turned away. */
  uid: number;
  /** Why this pid may open no more connections (as many as it may have are open), or undefined. */
  full: (pid: number) => string | undefined;
  /** Whether a pid belongs to the supervised tree. */
  isMember: (pid: number) => boolean;
}

/** The peer's pid when it may stay, or why it may not. */
export function checkPeer(socket: net.Socket, rules: PeerRules): { pid: number } | { rejection: Rejection } {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const peer = typeof fd === 'number' && fd >= 0 ? libc().peerCredentials(fd) : undefined;
  if (!peer) return { rejection: { reason: 'no peer credentials' } };
  const why = peer.uid !== rules.uid ? 'another user' : (rules.full(peer.pid) ?? (!rules.isMember(peer.pid) ? 'not a process of the supervised tree' : undefined));
  return why ? { rejection: { reason: why, peerPid: peer.pid, peerUid: peer.uid } } : { pid: peer.pid };
}
