// The state dir: one private folder holding everything the supervisor writes. Nothing on disk is trusted that
// this process did not create: symlinks are refused, a folder is tightened only when we just made it (never a
// foreign, shared or sticky one), no folder above it may be one another user could rename it out of, files are
// used only when regular, ours, single-link and 0600, and one supervisor at a time holds the state dir's lock.
import fs, { closeSync, constants, existsSync, fchmodSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CfnError, EXIT, UsageError } from './errors.js';
import { libc } from '../platform/libc.js';

const myUid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);
const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/** "ENOENT: no such file or directory, mkdir '/proc/x'" → "no such file or directory". */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.code ?? e.message;
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** The state dir cannot be written: a read-only file system, or a folder we may not write in. */
export class StateDirUnwritable extends CfnError {
  override readonly name = 'StateDirUnwritable';
  override readonly exitCode = EXIT.stateDirUnwritable;
  constructor(dir: string, err: unknown) {
    super(`cannot write the state dir ${dir}: ${reason(err)}; give a writable folder with --state-dir`);
  }
}

const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);
const cannotWrite = (err: unknown) => UNWRITABLE.has(errCode(err) ?? '');

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw new UsageError(`cannot inspect ${p}: ${reason(err)}`);
  }
}

/**
 * Why another user could replace what is below the folder `st` (rename it away and put their own in its place),
 * as sshd's StrictModes reasons: the folder is theirs, or they may write to it and it is not sticky. In a sticky
 * folder (/tmp) only root, the folder's owner and the owner of an entry can move that entry. Root is trusted: it
 * can do anything anyway.
 */
export function replaceableBelow(st: Pick<Stats, 'uid' | 'mode'>, uid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `belongs to another user (uid ${st.uid})`;
  if (st.mode & 0o022 && !(st.mode & 0o1000)) return `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} and not sticky (mode ${octal(st.mode)})`;
  return undefined;
}

/** Refuses a folder above a private one when another user could replace what is below it. */
function trustAbove(dir: string, st: Stats): void {
  const uid = myUid();
  const why = uid === undefined ? undefined : replaceableBelow(st, uid);
  if (why) throw new UsageError(`${dir} ${why}, who could replace what is below it; choose another folder`);
}

/**
 * One component of the walk down to the state dir: created 0700 when missing, refused when it is not a folder.
 * A symlink is followed only above the final folder and only when root or we own it: another user can plant
 * one only in a folder they can write, and then it is theirs. Returns whether this call created it, and else
 * the folder it found (where a link leads), for the check of what is above the state dir.
 */
function walkInto(p: string, last: boolean): { created: boolean; st?: Stats } {
  let st = lstatOrUndefined(p);
  if (!st) {
    try {
      // One level at a time: Node's recursive mkdir spins forever where mkdir answers ENOENT under an existing
      // parent (procfs, sysfs, a dangling symlink), which hung `--state-dir /proc/x` at full CPU.
      mkdirSync(p, { mode: 0o700 });
      return { created: true };
    } catch (err) {
      if (cannotWrite(err)) throw new StateDirUnwritable(p, err);
      if (errCode(err) !== 'EEXIST') throw new UsageError(`cannot create the folder ${p}: ${reason(err)}`);
      st = lstatSync(p);
    }
  }
  if (st.isSymbolicLink()) {
    if (last) throw new UsageError(`${p} is a symbolic link; give the folder itself`);
    if (st.uid !== 0 && st.uid !== myUid()) throw new UsageError(`${p} is a symbolic link owned by another user (uid ${st.uid}); refusing to follow it`);
    try {
      st = statSync(p);
    } catch (err) {
      throw new UsageError(`${p} is a symbolic link to nowhere usable: ${reason(err)}`);
    }
  }
  if (!st.isDirectory()) throw new UsageError(`${p} is not a folder`);
  return { created: false, st };
}

/**
 * Makes `dir` (and any missing parent) and checks that it is ours and private, and that nobody else can replace
 * it: no folder above it (on the path given, and on the real path a link of ours leads to) lets another user
 * rename it away (replaceableBelow). Only a folder this call created is chmod'ed (to 0700); an existing one must
 * already be owned by us and not writable by group or others, so a shared folder (`/tmp`, a sticky or group
 * folder) is refused rather than changed. Throws UsageError naming the folder and what is wrong with it.
 */
export function ensurePrivateDir(dir: string): string {
  return makePrivateDir(dir).path;
}

/** ensurePrivateDir, and whether this call created the folder. */
function makePrivateDir(dir: string): { path: string; created: boolean } {
  const target = path.resolve(dir);
  const parts = target.split(path.sep).filter(Boolean);
  let current = path.parse(target).root;
  // Checked before anything is made below it, so a refused path is left as it was.
  trustAbove(current, statSync(current));
  let created = false;
  parts.forEach((part, i) => {
    current = path.join(current, part);
    const step = walkInto(current, i === parts.length - 1);
    created = step.created;
    if (step.st && i < parts.length - 1) trustAbove(current, step.st);
  });
  const real = realpathSync(target);
  // A link of ours on the way: the folders above where it leads count too.
  if (real !== target) {
    for (let above = path.dirname(real); ; above = path.dirname(above)) {
      trustAbove(above, statSync(above));
      if (above === path.dirname(above)) break;
    }
  }
  let fd: number;
  try {
    // Checked through an fd opened without following links, so what is checked is what is tightened.
    fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errCode(err) === 'ELOOP') throw new UsageError(`${target} is a symbolic link; give the folder itself`);
    if (errCode(err) === 'ENOTDIR') throw new UsageError(`${target} is not a folder`);
    throw new UsageError(`cannot open the folder ${target}: ${reason(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (created) {
      if ((st.mode & 0o777) !== 0o700) fchmodSync(fd, 0o700);
      return { path: target, created };
    }
    const uid = myUid();
    if (uid !== undefined && st.uid !== uid) throw new UsageError(`${target} belongs to another user (uid ${st.uid}); choose another folder`);
    if (st.mode & 0o022) {
      throw new UsageError(`${target} is writable by ${st.mode & 0o020 ? 'its group' : 'others'} (mode ${octal(st.mode)}); run chmod go-w on it or choose another folder`);
    }
    return { path: target, created };
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a file of the state dir (a journal, the token, the lock) with `flags`, never through a symlink and
 * never a FIFO or device; a file it creates is 0600. Refuses, with one line, a file that is not regular, not
 * ours, has another hard link (someone could read it under another name) or is not 0600. `O_TRUNC` is applied
 * only once the file has passed, so a planted link never costs its target its contents.
 */
export function openPrivateFile(file: string, flags: number): number {
  // O_NONBLOCK: opening a planted FIFO must fail the check below, not block the supervisor for good.
  const base = (flags & ~constants.O_TRUNC) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fd: number;
  let created = false;
  try {
    if (flags & constants.O_CREAT) {
      try {
        fd = openSync(file, base | constants.O_EXCL, 0o600);
        created = true;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
        fd = openSync(file, base & ~constants.O_CREAT);
      }
    } else fd = openSync(file, base);
  } catch (err) {
    if (errCode(err) === 'ELOOP') throw new UsageError(`${file} is a symbolic link; refusing to follow it`);
    // A folder, or a FIFO nobody reads (which O_NONBLOCK turns from a hang into ENXIO).
    if (errCode(err) === 'EISDIR' || errCode(err) === 'ENXIO') throw new UsageError(`${file} is not a regular file`);
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    const uid = myUid();
    if (uid !== undefined && st.uid !== uid) throw new UsageError(`${file} belongs to another user (uid ${st.uid}); refusing to use it`);
    if (st.nlink > 1) throw new UsageError(`${file} has ${st.nlink} hard links; refusing a file that can be read under another name`);
    if (created && (st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600);
    else if (!created && (st.mode & 0o777) !== 0o600) throw new UsageError(`${file} has mode ${octal(st.mode)}, not 0600; run chmod 600 on it or remove it`);
    if (flags & constants.O_TRUNC) ftruncateSync(fd, 0);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Another supervisor holds the state dir's lock. */
export class StateDirBusy extends CfnError {
  override readonly name = 'StateDirBusy';
  constructor(
    readonly dir: string,
    readonly pid: number | undefined,
  ) {
    super(`another supervisor ${pid ? `(pid ${pid}) ` : ''}is running in ${dir}`);
  }
}

export const LOCK_NAME = 'lock';
const GITIGNORE_NAME = '.gitignore';
// The winner writes its pid just after taking the lock; a loser that comes in between waits this long for it.
const PID_WAIT_MS = 200;

function lockHolder(fd: number): number | undefined {
  const buf = Buffer.alloc(32);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + PID_WAIT_MS;
  for (;;) {
    const pid = Number.parseInt(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)), 10);
    if (pid > 0) return pid;
    if (Date.now() > deadline) return undefined;
    Atomics.wait(nap, 0, 0, 10);
  }
}

export interface StateDirLock {
  /** Drops the lock before the process ends. */
  release(): void;
  /**
   * Takes the lock again when its file is no longer the one we hold (`rm -rf state/*`, or a new file put in
   * its place): a second supervisor started on the state dir must still find it taken. Says whether it had to,
   * and who holds the new file when another process took it first.
   */
  keep(): { retaken: boolean; holder?: number };
}

/**
 * Opens the lock file and locks it, writing our pid into it: its descriptor, or the pid of the process that
 * holds it. Nothing is left open unless the lock is ours.
 */
function openLocked(file: string): { fd: number } | { holder: number | undefined } {
  const fd = openPrivateFile(file, constants.O_RDWR | constants.O_CREAT);
  let ours = false;
  try {
    if (!libc().lockExclusive(fd)) return { holder: lockHolder(fd) };
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    ours = true;
    return { fd };
  } finally {
    if (!ours) closeSync(fd);
  }
}

const sameFile = (a: Stats, b: Stats) => a.ino === b.ino && a.dev === b.dev;

/**
 * Takes `<dir>/lock` (flock, exclusive, non-blocking) for as long as this process lives, and writes our pid
 * into it. Call it before anything else touches the state dir. Throws StateDirBusy naming the holder's pid
 * when another process holds it. The kernel drops the lock when the process ends however it ends, so a stale
 * lock file never blocks.
 */
export function lockStateDir(dir: string): StateDirLock {
  const { path: root, created } = makePrivateDir(dir);
  const file = path.join(root, LOCK_NAME);
  let first: ReturnType<typeof openLocked>;
  try {
    first = openLocked(file);
  } catch (err) {
    // The lock is the first file written: a state dir that cannot take it can take nothing.
    throw cannotWrite(err) ? new StateDirUnwritable(root, err) : err;
  }
  if (!('fd' in first)) throw new StateDirBusy(root, first.holder);
  // The default state dir is in the project's checkout: keep it out of `git status`, as caches in a checkout
  // do (.pytest_cache, .ruff_cache). Only when made here: a person who removed it meant to.
  if (created) writePrivateFile(path.join(root, GITIGNORE_NAME), '*\n');
  let { fd } = first;
  let open = true;
  return {
    release() {
      // Closing the only descriptor of the open file releases a flock.
      if (open) closeSync(fd);
      open = false;
    },
    keep() {
      if (!open) return { retaken: false };
      try {
        if (sameFile(lstatSync(file), fstatSync(fd))) return { retaken: false };
      } catch {
        // Gone: taken again below.
      }
      ensurePrivateDir(root);
      const next = openLocked(file);
      if (!('fd' in next)) return { retaken: false, ...(next.holder ? { holder: next.holder } : {}) };
      closeSync(fd);
      fd = next.fd;
      return { retaken: true };
    },
  };
}

/** sun_path is 108 bytes on Linux, 104 on macOS and the BSDs (their sys/un.h), the terminating NUL included. */
export const maxSocketPathBytes = (os: NodeJS.Platform): number => (os === 'linux' ? 107 : 103);
export const MAX_SOCKET_PATH_BYTES = maxSocketPathBytes(process.platform);
export const socketFits = (p: string, os: NodeJS.Platform = process.platform): boolean => Buffer.byteLength(p) <= maxSocketPathBytes(os);

/** Names the private folder that holds this state dir's sockets when their paths would be too long. */
export const SOCKET_DIR_RECORD = 'sockets.dir';
const SOCKET_DIR_PREFIX = 'cfn-supervise-';

/**
 * The first `maxBytes` of a file of the state dir, read only when it passes openPrivateFile's checks (which
 * throw UsageError); none when there is no such file.
 */
export function readPrivateFile(file: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openPrivateFile(file, constants.O_RDONLY);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buf = Buffer.alloc(Math.min(maxBytes, Math.max(fstatSync(fd).size, 1)));
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

function readRecord(file: string): string | undefined {
  try {
    return readPrivateFile(file, 4096)?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Replaces a small private file of the state dir with `text`. */
export function writePrivateFile(file: string, text: string): void {
  const fd = openPrivateFile(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function isPrivateFolder(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === myUid() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/**
 * Where a unix socket of this state dir can live: in the state dir itself, or, when that path is longer than
 * a socket path may be, in a private folder made with mkdtemp under the runtime or temporary folder. Its name
 * cannot be guessed, so nobody can squat it in advance; it is recorded in the state dir and reused while it
 * stays ours and private.
 */
export function socketPathFor(stateDir: string, name: string): string {
  const root = path.resolve(stateDir);
  const direct = path.join(root, name);
  if (socketFits(direct)) return direct;
  const record = path.join(root, SOCKET_DIR_RECORD);
  const recorded = readRecord(record);
  if (recorded && isPrivateFolder(recorded) && socketFits(path.join(recorded, name))) return path.join(recorded, name);
  const uid = myUid() ?? 0;
  const bases = [process.env.XDG_RUNTIME_DIR, tmpdir(), '/tmp'].filter((b): b is string => Boolean(b));
  for (const base of bases) {
    const prefix = path.join(base, `${SOCKET_DIR_PREFIX}${uid}-`);
    if (!socketFits(path.join(`${prefix}XXXXXX`, name))) continue;
    let made: string;
    try {
      made = mkdtempSync(prefix);
    } catch {
      continue;
    }
    writePrivateFile(record, `${made}\n`);
    return path.join(made, name);
  }
  throw new UsageError(`no folder short enough for the sockets of ${stateDir}; choose a shorter --state-dir`);
}

/**
 * Makes `socketPath` free to listen on: what a process that died left there is removed; a socket that
 * answers belongs to a live process and is refused with `busy`.
 */
/** The file at `file` is still the one known by its device and inode (a socket we bound, a file we opened). */
export function isSameFile(file: string, known: { dev: number; ino: number }): boolean {
  try {
    const st = lstatSync(file);
    return st.dev === known.dev && st.ino === known.ino;
  } catch {
    return false;
  }
}

export async function claimSocketPath(socketPath: string, busy: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(busy);
  rmSync(socketPath, { force: true });
}

export interface StatePaths {
  root: string;
  log: string;
  runs: string;
  alerts: string;
  processes: string;
  reports: string;
  /** The agent's stdout and stderr (agent.log, rotated). */
  logs: string;
  ledger: string;
}

export function statePaths(root: string): StatePaths {
  return {
    root,
    log: path.join(root, 'supervisor.log'),
    runs: path.join(root, 'runs.jsonl'),
    alerts: path.join(root, 'alerts.jsonl'),
    processes: path.join(root, 'processes.jsonl'),
    reports: path.join(root, 'reports'),
    logs: path.join(root, 'logs'),
    ledger: path.join(root, 'ledger'),
  };
}

/** The names in a folder; none when it does not exist yet (nothing was ever written there). */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    // fs.promises when called, not node:fs/promises when loaded: a `status` loads this module and not streams.
    return await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
