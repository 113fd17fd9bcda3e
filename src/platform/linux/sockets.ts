// A process's TCP sockets, from /proc alone: its sockets are the `socket:[inode]` links in /proc/<pid>/fd, and
// /proc/<pid>/net/tcp{,6} (the table of its network namespace) says what each inode is: which listen, on what
// address and port (the inspector port a node process actually opened, and whether it closed again), and which
// are established connections (the connection rules).
import { endianness } from 'node:os';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { TcpListener } from '../types.js';

const LISTEN = '0A';
const ESTABLISHED = '01';
const littleEndian = endianness() === 'LE';

/** The table holds each 32-bit word of an address in host byte order, as hex. */
function words(hex: string): number[] {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(littleEndian ? word.reverse() : word));
  }
  return bytes;
}

function formatAddress(hex: string): string {
  const b = words(hex);
  if (b.length === 4) return b.join('.');
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return `::ffff:${b.slice(12).join('.')}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // The longest run of zero groups becomes `::`, as everyone writes IPv6 addresses.
  const text = groups.join(':');
  const runs = text.match(/(?:^|:)0(?::0)+(?::|$)/g) ?? [];
  const longest = runs.reduce((a, r) => (r.length > a.length ? r : a), '');
  return longest ? text.replace(longest, '::') : text;
}

/** The rows of one /proc/net/tcp or tcp6 table in a state: `sl local_address rem_address st … inode`. */
function rows(table: string, state: string): string[][] {
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === state && f[9] !== undefined);
}

/** The listening sockets of one /proc/net/tcp or tcp6 table. */
export function parseListeners(table: string): TcpListener[] {
  const found: TcpListener[] = [];
  for (const f of rows(table, LISTEN)) {
    if (!f[1] || !f[9]) continue;
    const [addr, port] = f[1].split(':');
    if (!addr || !port) continue;
    found.push({ address: formatAddress(addr), port: parseInt(port, 16), inode: f[9] });
  }
  return found;
}

/** Both tables of a namespace (`/proc/net` or `/proc/<pid>/net`), as text; a missing one (no IPv6) is left out. */
function tables(dir: string): string[] {
  return ['tcp', 'tcp6'].flatMap((name) => {
    try {
      return [readFileSync(`${dir}/${name}`, 'latin1')];
    } catch {
      // No IPv6 in this kernel, or the process is gone: the caller checks the latter through the fds.
      return [];
    }
  });
}

function readTables(dir: string): TcpListener[] {
  return tables(dir).flatMap(parseListeners);
}

/**
 * Inodes of the established TCP connections of our network namespace. Reading the tables walks the kernel's
 * whole connection hash, however few lines come out: callers do it every few seconds, not every tick.
 */
export function establishedInodes(): Set<string> {
  return new Set(tables('/proc/net').flatMap((t) => rows(t, ESTABLISHED).map((f) => f[9]!)));
}

/** A process's open descriptors by name; undefined when it is gone or not ours to read. */
export function fdNames(pid: number): string[] | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
}

/**
 * How many descriptors a process holds: since Linux 6.2 the size of /proc/<pid>/fd is that count, one stat
 * (cheaper than listing the folder); earlier kernels say 0 there, so the folder is listed.
 */
export function fdCount(pid: number): number | undefined {
  try {
    const size = statSync(`/proc/${pid}/fd`).size;
    if (size > 0) return size;
  } catch {
    return undefined;
  }
  return fdNames(pid)?.length;
}

/** Inodes of a process's sockets (one readlink per descriptor); undefined when it is gone or not ours to read. */
export function socketInodes(pid: number, names = fdNames(pid)): Set<string> | undefined {
  if (!names) return undefined;
  const inodes = new Set<string>();
  for (const n of names) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${n}`);
      if (target.startsWith('socket:[')) inodes.add(target.slice(8, -1));
    } catch {
      // The descriptor closed between listing and reading.
    }
  }
  return inodes;
}

/**
 * The inspector closer's test, run inside the target (probe-link/inspector-scripts.ts): whether any socket of its
 * network namespace not listening is connected on `port`, from /proc/self/net/tcp{,6}.
 */
export function inspectorHeldSource(port: number): string {
  return `(require) => {
    const fs = require('fs');
    return () => {
      for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
        let text = '';
        try { text = fs.readFileSync(table, 'latin1'); } catch { continue; }
        for (const line of text.split('\\n').slice(1)) {
          const f = line.trim().split(/\\s+/);
          if (f[3] !== '0A' && f[9] && f[9] !== '0' && parseInt((f[1] || '').split(':')[1], 16) === ${port}) return true;
        }
      }
      return false;
    };
  }`;
}

/** The TCP sockets `pid` listens on; undefined when the process is gone. */
export function listenersOf(pid: number): TcpListener[] | undefined {
  const inodes = socketInodes(pid);
  if (!inodes) return undefined;
  return readTables(`/proc/${pid}/net`).filter((l) => inodes.has(l.inode));
}

/** Every socket of this network namespace listening on `port`, whoever holds it. */
export function listenersOnPort(port: number): TcpListener[] {
  return readTables('/proc/net').filter((l) => l.port === port);
}

/** The process holding a socket, for error messages: a scan of every process's fds, so only when refusing. */
export function holderOf(inode: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (socketInodes(Number(name))?.has(inode)) return Number(name);
  }
  return undefined;
}
