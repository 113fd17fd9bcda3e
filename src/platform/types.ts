// What every backend reports about a process and its sockets, in the same units.

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** CPU time in 1/100 s (Linux's USER_HZ), user + system. */
  cpuTicks: number;
  /** 0 where the backend cannot tell (BSD ps has no thread count). */
  threads: number;
  /** With the pid, the identity of a process: clock ticks after boot (linux), seconds since 1970 (portable). */
  startTime: number;
  /** RSS in units of the backend's pageSize(). */
  rssPages: number;
  /** PF_EXITING: it is dying (closing its files) and not a zombie yet. */
  exiting: boolean;
}

/** What a process's RSS is made of, in bytes: anonymous memory, file-backed pages, shared memory. */
export interface RssKinds {
  anon: number;
  file: number;
  shmem: number;
}

/** What one count of a process's descriptors found; a figure the backend could not read is left out. */
export interface DescriptorCount {
  fds?: number;
  /** Established TCP connections. */
  connections?: number;
}

export interface TcpListener {
  /** As the kernel has it: `127.0.0.1`, `0.0.0.0`, `::1`, `::`, `::ffff:127.0.0.1`, ... */
  address: string;
  port: number;
  /** What identifies the socket: its inode (linux), lsof's device or inode (portable). */
  inode: string;
}

/** Where a client on this host reaches a listener: wildcard addresses are reached on loopback. */
export function connectHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  if (address.startsWith('::ffff:')) return address.slice(7);
  return address;
}
