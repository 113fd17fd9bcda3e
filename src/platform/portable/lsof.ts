// Descriptors and TCP sockets from `lsof -F` (field output, the same on Linux and macOS): one call for every pid
// asked, at the slow cadence. lsof may be missing (Debian: package lsof): then nothing is known, not zero.
import { execFileSync } from 'node:child_process';
import type { TcpListener } from '../types.js';

export interface LsofFile {
  /** A number for a descriptor; cwd, txt, mem, rtd... for the rest. */
  fd: string;
  type: string;
  /** The socket's identity: lsof's device field (Linux: the inode; macOS: the kernel address). */
  device: string;
  name: string;
  tcpState?: string;
}

const LSOF_TIMEOUT_MS = 10_000;
export const LSOF_FIELDS = 'pfdtnT';

/** Pure: lsof -F output by pid. Each line is a field letter and its value; `p` starts a process, `f` a file. */
export function parseLsof(text: string): Map<number, LsofFile[]> {
  const byPid = new Map<number, LsofFile[]>();
  let files: LsofFile[] | undefined;
  let file: LsofFile | undefined;
  for (const line of text.split('\n')) {
    const tag = line.charAt(0);
    const value = line.slice(1);
    if (tag === 'p') {
      files = [];
      byPid.set(Number(value), files);
      file = undefined;
    } else if (tag === 'f' && files) {
      file = { fd: value, type: '', device: '', name: '' };
      files.push(file);
    } else if (file) {
      if (tag === 't') file.type = value;
      else if (tag === 'd') file.device = value;
      else if (tag === 'n') file.name = value;
      else if (tag === 'T' && value.startsWith('ST=')) file.tcpState = value.slice(3);
    }
  }
  return byPid;
}

const isTcp = (f: LsofFile) => (f.type === 'IPv4' || f.type === 'IPv6') && f.tcpState !== undefined;

/** What a listener's name says (`127.0.0.1:9229`, `[::1]:9229`, `*:9229`), as /proc would have it. */
export function listenerOf(f: LsofFile): TcpListener | undefined {
  if (!isTcp(f) || f.tcpState !== 'LISTEN') return undefined;
  const m = /^(.*):(\d+)$/.exec(f.name);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const address = host === '*' ? (f.type === 'IPv6' ? '::' : '0.0.0.0') : host;
  return { address, port: Number(m[2]), inode: f.device };
}

export const listenersIn = (files: readonly LsofFile[]): TcpListener[] => files.flatMap((f) => listenerOf(f) ?? []);

/** Open descriptors (numbered ones only) and established TCP connections. */
export function countDescriptors(files: readonly LsofFile[]): { fds: number; connections: number } {
  return { fds: files.filter((f) => /^\d+$/.test(f.fd)).length, connections: files.filter((f) => isTcp(f) && f.tcpState === 'ESTABLISHED').length };
}

/** lsof's field output for `args`; undefined when lsof is missing or failed outright. */
export function runLsof(args: readonly string[]): string | undefined {
  try {
    return execFileSync('lsof', ['-nP', '-w', ...args, '-F', LSOF_FIELDS], { encoding: 'utf8', timeout: LSOF_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch (err) {
    // lsof exits 1 when one of the pids is gone, with the others' files on stdout.
    const { stdout, code } = err as { stdout?: string; code?: string };
    return code === 'ENOENT' ? undefined : stdout;
  }
}
