// Which TCP ports a process listens on, from /proc alone: its sockets are the `socket:[inode]` links in
// /proc/<pid>/fd, and /proc/<pid>/net/tcp{,6} (the table of its network namespace) says which of those inodes
// listen, on what address and port. Used to find the inspector port a node process actually opened (9229 may be
// taken, --inspect-port may say otherwise) and to check that it closed again.
import { endianness } from 'node:os';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface TcpListener {
  /** As the kernel has it: `127.0.0.1`, `0.0.0.0`, `::1`, `::`, `::ffff:127.0.0.1`, ... */
  address: string;
  port: number;
  inode: string;
}

const LISTEN = '0A';
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

/** The listening sockets of one /proc/net/tcp or tcp6 table. */
export function parseListeners(table: string): TcpListener[] {
  const found: TcpListener[] = [];
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f[3] !== LISTEN || !f[1] || !f[9]) continue;
    const [addr, port] = f[1].split(':');
    if (!addr || !port) continue;
    found.push({ address: formatAddress(addr), port: parseInt(port, 16), inode: f[9] });
  }
  return found;
}

function readTables(dir: string): TcpListener[] {
  const all: TcpListener[] = [];
  for (const name of ['tcp', 'tcp6']) {
    try {
      all.push(...parseListeners(readFileSync(`${dir}/${name}`, 'latin1')));
    } catch {
      // No IPv6 in this kernel, or the process is gone: the caller checks the latter through the fds.
    }
  }
  return all;
}

/** Inodes of a process's sockets; undefined when the process is gone or not ours to read. */
export function socketInodes(pid: number): Set<string> | undefined {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
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

/** Where a client on this host reaches a listener: wildcard addresses are reached on loopback. */
export function connectHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  if (address.startsWith('::ffff:')) return address.slice(7);
  return address;
}
