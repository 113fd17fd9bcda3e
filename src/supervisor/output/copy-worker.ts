// The copy of one agent pipe at a time, on a worker thread of its own: the supervisor's loop never waits on a destination,
// and the bytes never pass through it. Into a pipe (a shell's `|`, Docker, CI) tee(2) duplicates the agent's
// bytes into the destination inside the kernel, then one read takes them out of ours for the log; into anything
// else one read and one write per chunk. Chunks are up to a whole (enlarged, libc.pipe) pipe, so a bulk writer costs a few
// syscalls a megabyte. Every wait is a poll(2) with a timeout, and the destination is only ever written with
// per-call non-blocking flags (SPLICE_F_NONBLOCK, MSG_DONTWAIT), never by changing its file description: the
// thread is back in JavaScript at least every WAIT_MS, where Node's exit can end it, and a blocked reader blocks
// only this thread (then the agent, through its full pipe, as it would bare).
// What the log gets is decided here, so that bytes it does not take never cross to the main thread: the budget
// (LogBudget), and a window of bytes handed over but not yet written by the main thread.
import { fstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { LogBudget } from './lines.js';

/** One pipe to copy: a worker copies one at a time, and waits for the next (warm for the agent's restart). */
export interface CopyJob {
  source: number;
  destination: number;
  /** LogBudget's rate and burst, in bytes. */
  logRate: number;
  logBurst: number;
  /** How much of the bytes the log skipped to hand on for the last stderr lines; 0: none. */
  tailBytes: number;
  /** Int32Array: [0] bytes handed to the main thread and not yet taken by it (the main thread subtracts). */
  inFlight: SharedArrayBuffer;
}

/** Worker to main thread, in order. */
export type CopyMessage =
  | { kind: 'data'; at: number; data: Uint8Array }
  | { kind: 'skipped'; bytes: number; tail: Uint8Array }
  | { kind: 'failed'; code: string }
  | { kind: 'end' };

/** The most one call moves: a whole pipe as libc.pipe() makes it. */
const PIPE_BYTES = 1024 * 1024;
/** Handed to the log at this size, or this old: one message and one log write for many lines. */
const BATCH_BYTES = 256 * 1024;
const BATCH_MS = 20;
/** Bytes handed over the main thread has not taken yet: beyond it the log skips (the main thread is busy). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** The longest wait in one poll: how soon the thread is back in JavaScript. */
const WAIT_MS = 100;

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const SPLICE_F_NONBLOCK = 2;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const POLLOUT = 4;
const EINTR = 4;
const EAGAIN = 11;
const EPIPE = 32;

const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
const lib = koffi.load(null);
type Call = (...args: unknown[]) => number;
const call = (decl: string) => lib.func(decl) as Call;
const tee = call('intptr_t tee(int, int, size_t, unsigned int)');
const read = call('intptr_t read(int, void *, size_t)');
const write = call('intptr_t write(int, void *, size_t)');
const send = call('intptr_t send(int, void *, size_t, int)');
const poll = call('int poll(_Inout_ uint8_t *, unsigned long, int)');
const close = call('int close(int)');
const fcntl = call('int fcntl(int, int, ...)');
const splice = call('intptr_t splice(int, void *, int, void *, size_t, unsigned int)');
const errno = () => koffi.errno();
const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

const port = parentPort!;
const pollFd = Buffer.alloc(8);

/** Waits up to `ms` for `events` on `fd`; wakes on errors and hang-ups too (the next call then says what). */
function waitFor(fd: number, events: number, ms: number): void {
  pollFd.writeInt32LE(fd, 0);
  pollFd.writeInt16LE(events, 4);
  pollFd.writeInt16LE(0, 6);
  poll(pollFd, 1, ms);
}

/**
 * After a move found nothing to do: waits for the side that was not ready, the source empty (up to `ms`) or the
 * destination full. Polls only: asking a pipe how full it is (FIONREAD) takes the lock the agent writes under.
 */
function waitForEither(source: number, destination: number, ms: number): void {
  waitFor(source, POLLIN, 0);
  if (pollFd.readInt16LE(6) === 0) waitFor(source, POLLIN, ms);
  else waitFor(destination, POLLOUT, WAIT_MS);
}

/** What the log is handed: batched, or skipped (counted, with the tail the last stderr lines need). */
class LogFeed {
  private readonly budget: LogBudget;
  private readonly handed: Int32Array;
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private batched = 0;
  private batchAt = 0;
  private skipped = 0;
  private tail = Buffer.alloc(0);

  constructor(private readonly job: CopyJob) {
    this.budget = new LogBudget(job.logRate, job.logBurst);
    this.handed = new Int32Array(job.inFlight);
  }

  /** Whether the log would take `bytes` now. */
  open(bytes: number, now: number): boolean {
    return this.roomFor(bytes) && this.budget.allows(bytes, now);
  }

  /** Whether the log takes the next `bytes` read; if not, skip() them. */
  wants(bytes: number, now: number): boolean {
    return this.roomFor(bytes) && this.budget.take(bytes, now);
  }

  private roomFor(bytes: number): boolean {
    return Atomics.load(this.handed, 0) + this.batched + bytes <= WINDOW_BYTES;
  }

  take(chunk: Buffer, now: number): void {
    this.flushSkipped();
    for (let at = 0; at < chunk.length; ) {
      if (this.batched === 0) this.batchAt = now;
      const n = chunk.copy(this.batch, this.batched, at);
      this.batched += n;
      at += n;
      if (this.batched === BATCH_BYTES) this.flush();
    }
  }

  /** Bytes the log does not take, of which `last` are their end (at most tailBytes). */
  skip(bytes: number, last: Buffer): void {
    this.flush();
    this.skipped += bytes;
    if (last.length > 0) this.tail = Buffer.concat([this.tail, last]).subarray(-this.job.tailBytes);
  }

  /** How long until the batch is due; WAIT_MS when there is none. */
  due(now: number): number {
    return this.batched === 0 ? WAIT_MS : Math.max(0, Math.min(WAIT_MS, this.batchAt + BATCH_MS - now));
  }

  flushIfDue(now: number): void {
    if (this.batched > 0 && now - this.batchAt >= BATCH_MS) this.flush();
  }

  /** Everything held goes to the main thread, in order. */
  flush(): void {
    this.flushSkipped();
    if (this.batched === 0) return;
    const data = this.batch.subarray(0, this.batched);
    Atomics.add(this.handed, 0, data.length);
    port.postMessage({ kind: 'data', at: this.batchAt, data } satisfies CopyMessage, [data.buffer]);
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.batched = 0;
  }

  private flushSkipped(): void {
    if (this.skipped === 0) return;
    port.postMessage({ kind: 'skipped', bytes: this.skipped, tail: this.tail } satisfies CopyMessage);
    this.skipped = 0;
    this.tail = Buffer.alloc(0);
  }
}

/** Reads exactly `n` bytes that are known to be in `fd`. */
function readExactly(fd: number, buf: Buffer, n: number): void {
  for (let at = 0; at < n; ) {
    const r = read(fd, buf.subarray(at), n - at);
    if (r > 0) at += r;
    else if (errno() !== EINTR) return;
  }
}

/** Drops `n` bytes that are known to be in `fd` without copying them out of the kernel, where it can. */
function discard(fd: number, n: number, devNull: number, buf: Buffer): void {
  for (let left = n; left > 0; ) {
    const r = devNull < 0 ? -1 : splice(fd, null, devNull, null, left, 0);
    if (r > 0) left -= r;
    else if (errno() !== EINTR) {
      readExactly(fd, buf, Math.min(left, buf.length));
      left -= Math.min(left, buf.length);
    }
  }
}

/** Writes all of `data` into a destination that is not a pipe; a socket without ever blocking in the call. */
function writeAll(fd: number, data: Buffer, socket: boolean): 'ok' | 'gone' | number {
  for (let at = 0; at < data.length; ) {
    const rest = data.subarray(at);
    const n = socket ? send(fd, rest, rest.length, MSG_DONTWAIT) : write(fd, rest, rest.length);
    if (n >= 0) {
      at += n;
      continue;
    }
    const e = errno();
    if (e === EAGAIN) waitFor(fd, POLLOUT, WAIT_MS);
    else if (e === EPIPE) return 'gone';
    else if (e !== EINTR) return e;
  }
  return 'ok';
}

function kindOf(fd: number): ReturnType<typeof fstatSync> | undefined {
  try {
    return fstatSync(fd);
  } catch {
    // Closed: the first write says how.
    return undefined;
  }
}

function openDevNull(): number {
  try {
    return openSync('/dev/null', 'w');
  } catch {
    return -1;
  }
}

const buf = Buffer.allocUnsafe(PIPE_BYTES);
const devNull = openDevNull();

function copy(job: CopyJob): void {
  const { source, destination, tailBytes } = job;
  const log = new LogFeed(job);
  const st = kindOf(destination);
  const socket = st?.isSocket() ?? false;
  let toPipe = st?.isFIFO() ?? false;
  let delivering = true;
  // A destination pipe as large as ours: at 64 KiB, the reader and this thread would take turns 16 times a
  // megabyte, where the agent bare meets its reader alone. Only ever grown, and what the system allows.
  if (toPipe && fcntl(destination, F_GETPIPE_SZ) < PIPE_BYTES) fcntl(destination, F_SETPIPE_SZ, 'int', PIPE_BYTES);
  const failed = (e: number) => {
    delivering = false;
    toPipe = false;
    port.postMessage({ kind: 'failed', code: errnoNames.get(e) ?? `errno ${e}` } satisfies CopyMessage);
  };
  for (;;) {
    const now = Date.now();
    log.flushIfDue(now);
    if (toPipe) {
      // What the log will not take moves into the destination whole: one call, no copy, nothing read.
      const logs = tailBytes > 0 || log.open(1, now);
      const n = logs ? tee(source, destination, PIPE_BYTES, SPLICE_F_NONBLOCK) : splice(source, null, destination, null, PIPE_BYTES, SPLICE_F_NONBLOCK);
      if (n === 0) break;
      if (n < 0) {
        const e = errno();
        if (e === EPIPE) break;
        if (e === EAGAIN) waitForEither(source, destination, log.due(now));
        else if (e !== EINTR) failed(e);
        continue;
      }
      // The destination has them: now out of our pipe, into the log or past it.
      if (!logs) log.skip(n, buf.subarray(0, 0));
      else if (log.wants(n, now)) {
        readExactly(source, buf, n);
        log.take(buf.subarray(0, n), now);
      } else {
        const last = Math.min(n, tailBytes);
        discard(source, n - last, devNull, buf);
        readExactly(source, buf, last);
        log.skip(n, buf.subarray(0, last));
      }
      continue;
    }
    // Readable or hung up, a read does not block; nothing returned means the wait only ran out.
    waitFor(source, POLLIN, log.due(now));
    if (pollFd.readInt16LE(6) === 0) continue;
    const n = read(source, buf, PIPE_BYTES);
    if (n === 0) break;
    if (n < 0) continue;
    if (delivering) {
      const outcome = writeAll(destination, buf.subarray(0, n), socket);
      if (outcome === 'gone') break;
      if (typeof outcome === 'number') failed(outcome);
    }
    if (log.wants(n, now)) log.take(buf.subarray(0, n), now);
    else log.skip(n, buf.subarray(Math.max(0, n - tailBytes), n));
  }
  log.flush();
  // Our end goes: an agent still writing learns that its reader went away (EPIPE, SIGPIPE), as it would bare.
  close(source);
  port.postMessage({ kind: 'end' } satisfies CopyMessage);
}

port.on('message', copy);
