// The owner-only unix sockets the processes of the tree connect to (the probes' registry, the Bun inspector
// links): listening on one, and who is at the other end of a connection (SO_PEERCRED) and whether it may stay.
import { promises as fs } from 'node:fs';
import type net from 'node:net';
import { libc } from '../../common/libc.js';
import { claimSocketPath } from '../../common/statedir.js';

/** Listens on `socketPath` (0600). The parent folder must exist and should be private (0700). */
export async function listenOwnerOnly(server: net.Server, socketPath: string): Promise<void> {
  const st = await fs.lstat(socketPath).catch(() => undefined);
  if (st && !st.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
  await claimSocketPath(socketPath, `another process is listening on ${socketPath}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fs.chmod(socketPath, 0o600);
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
  /** A connection from this pid is already open. */
  connected: (pid: number) => boolean;
  /** Whether a pid belongs to the supervised tree. */
  isMember: (pid: number) => boolean;
}

/** The peer's pid when it may stay, or why it may not. */
export function checkPeer(socket: net.Socket, rules: PeerRules): { pid: number } | { rejection: Rejection } {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const peer = typeof fd === 'number' && fd >= 0 ? libc().peerCredentials(fd) : undefined;
  if (!peer) return { rejection: { reason: 'no peer credentials' } };
  const why =
    peer.uid !== rules.uid
      ? 'another user'
      : rules.connected(peer.pid)
        ? 'a connection from this pid is already open'
        : !rules.isMember(peer.pid)
          ? 'not a process of the supervised tree'
          : undefined;
  return why ? { rejection: { reason: why, peerPid: peer.pid, peerUid: peer.uid } } : { pid: peer.pid };
}
