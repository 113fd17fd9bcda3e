// The linux backend: /proc for every process figure, prctl for the subreaper.
import { accessSync, constants, readFileSync, readlinkSync } from 'node:fs';
import type { DescriptorCount, Platform, ProcessTable, TargetStatus } from '../index.js';
import { readRssKinds } from './rss-kinds.js';
import { systemMemory } from '../sysmem.js';
import { establishedInodes, fdCount, fdNames, holderOf, inspectorHeldSource, listenersOf, listenersOnPort, socketInodes } from './sockets.js';
import { OpenProcFiles, childrenOf, executableOf, pageSize, readArgv, readEnvVar, readStat, scanFrom, scanProcesses } from './stat.js';

/** Whole passes over /proc; between them, walks down from the roots, their files kept open. */
function processTable(): ProcessTable {
  const files = new OpenProcFiles();
  return {
    scan: (full, roots) => (full ? scanProcesses() : scanFrom(roots(), files)),
    close: () => files.close(),
  };
}

function targetStatus(pid: number): TargetStatus | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return { comm: field('Name'), state: field('State').charAt(0), uid: Number(field('Uid').split(/\s+/)[0]) };
}

function sameNetwork(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
  } catch {
    return true;
  }
}

/**
 * Listing /proc/<pid>/fd, a readlink per descriptor and /proc/net/tcp{,6} (which walks the kernel's whole
 * connection hash): a process whose folder cannot be listed counts no connection and keeps its descriptor count.
 */
function descriptors(pids: readonly number[]): Map<number, DescriptorCount> {
  const names = new Map(pids.map((pid) => [pid, fdNames(pid)]));
  const inodes = new Map(pids.map((pid) => [pid, [...(socketInodes(pid, names.get(pid) ?? []) ?? [])]]));
  const established = [...inodes.values()].some((list) => list.length > 0) ? establishedInodes() : new Set<string>();
  return new Map(pids.map((pid) => [pid, { fds: names.get(pid)?.length, connections: inodes.get(pid)!.filter((i) => established.has(i)).length }]));
}

let setprivPath: string | null | undefined;

/**
 * util-linux's setpriv sets the parent-death signal and execs the agent: if the supervisor is killed outright,
 * the agent hears of it at once (the watchdog ends the rest of the tree). Where it is missing, the watchdog alone.
 */
function findSetpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    for (const file of ['/usr/bin/setpriv', '/bin/setpriv']) {
      try {
        accessSync(file, constants.X_OK);
        setprivPath = file;
        break;
      } catch {
        // Try the next place.
      }
    }
  }
  return setprivPath;
}

export const linuxPlatform: Platform = {
  name: 'linux',
  pageSize,
  readStat: (pid) => readStat(pid),
  processTable,
  adoptedChildren: () => childrenOf('self'),
  // The subreaper brings every orphan of the tree back as our child: no mark is needed.
  marksRuns: false,
  markedProcesses: () => new Set(),
  readArgv,
  readEnvVar,
  executableOf,
  targetStatus,
  sameNetwork,
  fdCount,
  descriptors,
  rssKinds: readRssKinds,
  listenersOf,
  listenersOnPort,
  inspectorHeldSource,
  holderOf,
  systemMemory: () => systemMemory(),
  becomeSubreaper: (libc) => libc.becomeSubreaper(),
  watchdogMode: () => ['proc'],
  withParentDeathSignal: (argv) => {
    const setpriv = findSetpriv();
    return setpriv ? [setpriv, '--pdeathsig', 'TERM', '--', ...argv] : argv;
  },
  reopenablePath: (fd) => `/proc/self/fd/${fd}`,
};
