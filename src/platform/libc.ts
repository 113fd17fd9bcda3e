// The libc calls Node does not expose, through koffi (prebuilt, no compiler at install time): spawning the agent
// into its own process group of our session (so that it can own the terminal), waiting for it with stop and
// continue events, the terminal's foreground group, subreaping, locks and peer credentials.
import { constants as fileFlags } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

export interface WaitStatus {
  pid: number;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  stopped?: NodeJS.Signals;
  continued?: true;
}

export interface SpawnRequest {
  file: string;
  argv: string[];
  env: string[];
  /** What the agent gets as fds 0-2 (dup2'd onto them); each of ours unless given. */
  stdio?: readonly [number, number, number];
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface Libc {
  /** prctl(PR_SET_CHILD_SUBREAPER): orphans of the agent are re-parented to us instead of init. */
  becomeSubreaper(): boolean;
  /** prctl(PR_SET_DUMPABLE, 0): re-raising SIGABRT or SIGSEGV on ourselves must not write a core of the supervisor. */
  noCoreDump(): void;
  /**
   * posix_spawnp into a new process group (pgid = its pid) of our session, with every signal at its default
   * disposition and none blocked, and fds 0-2 inherited or replaced by `stdio` (Node marks its own close-on-exec).
   * Returns the pid or the errno (ENOENT, EACCES…) as a negative number.
   */
  spawn(req: SpawnRequest): number;
  /** A pipe whose ends close on exec: [read end, write end]; undefined when none can be made (out of descriptors). */
  pipe(): [number, number] | undefined;
  /** waitpid(pid, WNOHANG | WUNTRACED | WCONTINUED) on exactly one pid; undefined when nothing changed. */
  wait(pid: number): WaitStatus | undefined;
  /** waitpid(pid, WNOHANG) on exactly one pid; true when that zombie was collected. */
  reap(pid: number): boolean;
  tcgetpgrp(fd: number): number;
  /** tcsetpgrp with SIGTTOU blocked: a background process may hand the terminal on, and take it back. */
  tcsetpgrp(fd: number, pgid: number): boolean;
  /** flock(fd, LOCK_EX | LOCK_NB): false when another process holds the lock. */
  lockExclusive(fd: number): boolean;
  /** SO_PEERCRED of a connected unix socket: who is really at the other end. */
  peerCredentials(fd: number): PeerCredentials | undefined;
  /** fcntl(F_SETFL) without O_NONBLOCK: false when the flags cannot be read or set. */
  setBlocking(fd: number): boolean;
}

const PR_SET_DUMPABLE = 4;
const PR_SET_CHILD_SUBREAPER = 36;
const RLIMIT_CORE = 4;
const WNOHANG = 1;
const WUNTRACED = 2;
const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const LOCK_EX = 2;
const LOCK_NB = 4;
// pipe2 is Linux's; macOS makes a pipe with pipe() and marks each end close-on-exec with fcntl.
const O_CLOEXEC = 0o2000000;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_GETFL = 3;
const F_SETFL = 4;

/** Where Linux and macOS differ, from their headers (<sys/wait.h>, <signal.h>, <sys/un.h>); the rest is the same. */
export interface LibcFlavour {
  /** koffi.load's argument: null is the process's own symbols (glibc or musl, whichever node links). */
  library: string | null;
  WCONTINUED: number;
  SIG_BLOCK: number;
  SIG_SETMASK: number;
  /** The status waitpid reports for a continued child. */
  continuedStatus: number;
}

export function libcFlavour(os: NodeJS.Platform): LibcFlavour {
  if (os === 'darwin') return { library: '/usr/lib/libSystem.B.dylib', WCONTINUED: 0x10, SIG_BLOCK: 1, SIG_SETMASK: 3, continuedStatus: 0x137f };
  return { library: null, WCONTINUED: 8, SIG_BLOCK: 0, SIG_SETMASK: 2, continuedStatus: 0xffff };
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
// macOS has no SO_PEERCRED: the peer's uid from LOCAL_PEERCRED (a struct xucred), its pid from LOCAL_PEERPID.
const SOL_LOCAL = 0;
const LOCAL_PEERCRED = 1;
const LOCAL_PEERPID = 2;
const XUCRED_BYTES = 76;
// glibc's opaque types on Linux (x86_64: 336 and 80 bytes, sigset_t 128); generous buffers for every arch.
const SPAWNATTR_BYTES = 1024;
const FILE_ACTIONS_BYTES = 512;
const SIGSET_BYTES = 128;

// The first name of each number: 6 is SIGABRT (not its alias SIGIOT), as shells, Node and the journals say.
const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(constants.signals)) if (!signalNames.has(n)) signalNames.set(n, name as NodeJS.Signals);

/** Decodes a wait status the way <sys/wait.h>'s macros do. */
export function decodeWaitStatus(pid: number, status: number, continuedStatus = 0xffff): WaitStatus {
  if (status === continuedStatus) return { pid, continued: true };
  if ((status & 0xff) === 0x7f) return { pid, stopped: signalNames.get((status >> 8) & 0xff) ?? 'SIGSTOP' };
  const term = status & 0x7f;
  if (term === 0) return { pid, exited: { code: (status >> 8) & 0xff, signal: null } };
  return { pid, exited: { code: null, signal: signalNames.get(term) ?? 'SIGKILL' } };
}

let loaded: Libc | undefined;

/** Every C call the supervisor makes, as koffi declares it: the musl test checks this list against musl's libc. */
export const DECLARATIONS = {
  waitpid: 'int waitpid(int, _Out_ int *, int)',
  posix_spawnattr_init: 'int posix_spawnattr_init(_Inout_ uint8_t *)',
  posix_spawnattr_destroy: 'int posix_spawnattr_destroy(_Inout_ uint8_t *)',
  posix_spawnattr_setflags: 'int posix_spawnattr_setflags(_Inout_ uint8_t *, short)',
  posix_spawnattr_setpgroup: 'int posix_spawnattr_setpgroup(_Inout_ uint8_t *, int)',
  posix_spawnattr_setsigdefault: 'int posix_spawnattr_setsigdefault(_Inout_ uint8_t *, const uint8_t *)',
  posix_spawnattr_setsigmask: 'int posix_spawnattr_setsigmask(_Inout_ uint8_t *, const uint8_t *)',
  posix_spawn_file_actions_init: 'int posix_spawn_file_actions_init(_Inout_ uint8_t *)',
  posix_spawn_file_actions_destroy: 'int posix_spawn_file_actions_destroy(_Inout_ uint8_t *)',
  posix_spawn_file_actions_adddup2: 'int posix_spawn_file_actions_adddup2(_Inout_ uint8_t *, int, int)',
  posix_spawnp: 'int posix_spawnp(_Out_ int *, const char *, const uint8_t *, const uint8_t *, const char **, const char **)',
  sigemptyset: 'int sigemptyset(_Inout_ uint8_t *)',
  sigfillset: 'int sigfillset(_Inout_ uint8_t *)',
  sigaddset: 'int sigaddset(_Inout_ uint8_t *, int)',
  pthread_sigmask: 'int pthread_sigmask(int, const uint8_t *, _Out_ uint8_t *)',
  tcgetpgrp: 'int tcgetpgrp(int)',
  tcsetpgrp: 'int tcsetpgrp(int, int)',
  flock: 'int flock(int, int)',
  getsockopt: 'int getsockopt(int, int, int, _Out_ uint8_t *, _Inout_ uint32_t *)',
  fcntl: 'int fcntl(int, int, ...)',
} as const;

/** Linux's alone: the subreaper and the core-dump switch. */
export const LINUX_DECLARATIONS = {
  prctl: 'int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)',
  pipe2: 'int pipe2(_Out_ uint8_t *, int)',
} as const;
/** macOS has no prctl: cores are switched off through the core-size limit; no pipe2 either. */
export const DARWIN_DECLARATIONS = {
  setrlimit: 'int setrlimit(int, const uint8_t *)',
  pipe: 'int pipe(_Out_ uint8_t *)',
} as const;

type Call = (...args: unknown[]) => unknown;

/**
 * Each declared call from `lib`, or one line naming the first one it lacks and what still works without it.
 * Exported for the test that hands it a library without them.
 */
export function bindCalls<T extends Record<string, string>>(lib: { func(decl: string): unknown }, declarations: T): Record<keyof T, Call> {
  const bound = {} as Record<keyof T, Call>;
  for (const [name, decl] of Object.entries(declarations) as [keyof T & string, string][]) {
    try {
      bound[name] = lib.func(decl) as Call;
    } catch {
      throw new Error(`this system's C library has no ${name}(), which supervising needs; status, report, analyze and monitor still work`);
    }
  }
  return bound;
}

/**
 * Loads once; throws with a one-line reason where koffi or a needed call is not there. The calls are looked up
 * among the process's own symbols, so whichever C library node was linked against serves: glibc or musl.
 */
export function libc(): Libc {
  if (loaded) return loaded;
  const os = process.platform;
  if (os !== 'linux' && os !== 'darwin') throw new Error(`cfn-supervise supervises on Linux and macOS, not on ${os}`);
  const flavour = libcFlavour(os);
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load(flavour.library);
  const {
    waitpid,
    posix_spawnattr_init: attrInit,
    posix_spawnattr_destroy: attrDestroy,
    posix_spawnattr_setflags: attrSetFlags,
    posix_spawnattr_setpgroup: attrSetPgroup,
    posix_spawnattr_setsigdefault: attrSetSigDefault,
    posix_spawnattr_setsigmask: attrSetSigMask,
    posix_spawn_file_actions_init: actionsInit,
    posix_spawn_file_actions_destroy: actionsDestroy,
    posix_spawn_file_actions_adddup2: actionsDup2,
    posix_spawnp: spawnp,
    sigemptyset,
    sigfillset,
    sigaddset,
    pthread_sigmask: sigmask,
    tcgetpgrp,
    tcsetpgrp,
    flock,
    getsockopt,
    fcntl,
  } = bindCalls(lib, DECLARATIONS);
  const own = os === 'linux' ? bindCalls(lib, LINUX_DECLARATIONS) : bindCalls(lib, DARWIN_DECLARATIONS);

  const withSigttouBlocked = <T>(work: () => T): T => {
    const block = Buffer.alloc(SIGSET_BYTES);
    const saved = Buffer.alloc(SIGSET_BYTES);
    sigemptyset(block);
    sigaddset(block, constants.signals.SIGTTOU);
    sigmask(flavour.SIG_BLOCK, block, saved);
    try {
      return work();
    } finally {
      sigmask(flavour.SIG_SETMASK, saved, Buffer.alloc(SIGSET_BYTES));
    }
  };

  loaded = {
    becomeSubreaper: () => 'prctl' in own && own.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0,
    // Both rlim_t fields of the limit zero: no core of any size.
    noCoreDump: () => void ('prctl' in own ? own.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) : own.setrlimit(RLIMIT_CORE, Buffer.alloc(16))),
    spawn({ file, argv, env, stdio = [0, 1, 2] }) {
      const attr = Buffer.alloc(SPAWNATTR_BYTES);
      const actions = Buffer.alloc(FILE_ACTIONS_BYTES);
      const all = Buffer.alloc(SIGSET_BYTES);
      const none = Buffer.alloc(SIGSET_BYTES);
      sigfillset(all);
      sigemptyset(none);
      attrInit(attr);
      actionsInit(actions);
      try {
        attrSetFlags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        attrSetPgroup(attr, 0);
        attrSetSigDefault(attr, all);
        attrSetSigMask(attr, none);
        // dup2(fd, fd) clears close-on-exec (POSIX 2017, glibc >= 2.29): the agent gets our stdio as it is.
        stdio.forEach((from, fd) => actionsDup2(actions, from, fd));
        const pid = [0];
        const rc = spawnp(pid, file, actions, attr, [...argv, null], [...env, null]) as number;
        return rc === 0 ? pid[0]! : -rc;
      } finally {
        actionsDestroy(actions);
        attrDestroy(attr);
      }
    },
    pipe: () => ('pipe2' in own ? linuxPipe(own.pipe2) : darwinPipe(own.pipe, fcntl)),
    wait(pid) {
      const status = [0];
      const r = waitpid(pid, status, WNOHANG | WUNTRACED | flavour.WCONTINUED) as number;
      return r === pid ? decodeWaitStatus(pid, status[0]!, flavour.continuedStatus) : undefined;
    },
    reap: (pid) => waitpid(pid, [0], WNOHANG) === pid,
    setBlocking(fd) {
      const flags = fcntl(fd, F_GETFL) as number;
      return flags >= 0 && fcntl(fd, F_SETFL, 'int', flags & ~fileFlags.O_NONBLOCK) === 0;
    },
    tcgetpgrp: (fd) => tcgetpgrp(fd) as number,
    tcsetpgrp: (fd, pgid) => withSigttouBlocked(() => tcsetpgrp(fd, pgid) === 0),
    lockExclusive: (fd) => flock(fd, LOCK_EX | LOCK_NB) === 0,
    peerCredentials(fd) {
      if (os === 'darwin') return darwinPeer(getsockopt, fd);
      const buf = Buffer.alloc(12);
      const len = [12];
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) return undefined;
      return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
    },
  };
  return loaded;
}

function linuxPipe(pipe2: Call): [number, number] | undefined {
  const fds = Buffer.alloc(8);
  if (pipe2(fds, O_CLOEXEC) !== 0) return undefined;
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** pipe() then FD_CLOEXEC on each end; exported for the test that runs it on Linux's libc (same calls, same values). */
export function darwinPipe(pipe: Call, fcntl: Call): [number, number] | undefined {
  const fds = Buffer.alloc(8);
  if (pipe(fds) !== 0) return undefined;
  const ends: [number, number] = [fds.readInt32LE(0), fds.readInt32LE(4)];
  for (const fd of ends) fcntl(fd, F_SETFD, 'int', FD_CLOEXEC);
  return ends;
}

/** struct xucred: cr_version (u32), cr_uid (u32), cr_ngroups (i16, padded), cr_groups[16] (u32): gid is the first group. */
function darwinPeer(getsockopt: Call, fd: number): PeerCredentials | undefined {
  const cred = Buffer.alloc(XUCRED_BYTES);
  const pid = Buffer.alloc(4);
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, cred, [XUCRED_BYTES]) !== 0) return undefined;
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, pid, [4]) !== 0) return undefined;
  return { pid: pid.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(12) };
}
