// Who is at the other end of a unix socket a process of the tree connected to (SO_PEERCRED), and whether it may
// stay: shared by the probes' registry and the Bun inspector links, which trust a peer on the same rules.
import type net from 'node:net';
import { libc } from '../../common/libc.js';

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
