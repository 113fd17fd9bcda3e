// One pipe the agent writes into, copied to where the agent's output went before (the supervisor's own fd 1 or
// 2) byte for byte and in order, and handed on for the log (log-feed.ts), on the supervisor's own thread and
// without ever letting it wait: no thread or isolate of its own. Into a pipe (a shell's `|`, Docker, CI) tee(2)
// duplicates the agent's bytes into the destination inside the kernel, then one read takes them out of ours for
// the log, or splice(2) moves them whole when the log takes none: the bytes the log does not take never reach
// JavaScript. Into anything else one read and one write per chunk. Chunks are up to a whole (grown,
// libc.growPipe) pipe, so a bulk writer costs a few calls a megabyte. While bytes flow, the moves are
// non-blocking calls made one after the other, TURN_BYTES per turn of the loop; every wait (our pipe empty, the
// destination full, a file's write) is one call on a thread of libuv's pool, at most one per pipe at a time and
// none longer than WAIT_MS, and the next move is made from its callback. A destination that blocks (a paused
// `less`, a throttled journal) fills the pipe and blocks the agent, as it would bare, and the memory held stays at
// one chunk. The destination is only written with per-call non-blocking flags (SPLICE_F_NONBLOCK, MSG_DONTWAIT),
// never by changing its file description under the other processes that share it. process.exit waits for the
// pool's threads: WAIT_MS is also the most a copy adds to the supervisor's exit.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { errorMessage } from '../../common/errors.js';
import { libc, type PipeIo } from '../../common/libc.js';
import { LogFeed } from './log-feed.js';

/** The most one call moves: a whole pipe as libc.pipe() makes it. */
const PIPE_BYTES = 1024 * 1024;
/** Less than this room in the log, and a chunk is not read for it: a flood costs one call a chunk, not three. */
const MIN_LOGGED_BYTES = 16 * 1024;
/** Moved per turn of the loop while bytes flow: a few tens of microseconds of calls, then the loop's other work. */
const TURN_BYTES = 4 * 1024 * 1024;
/** The longest wait in one poll: how long a pool thread is held at most, and the exit with it. */
const WAIT_MS = 100;

const SPLICE_F_NONBLOCK = 2;
const POLLIN = 1;
const POLLOUT = 4;
const { EINTR, EAGAIN, EPIPE } = constants.errno;
const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export interface CopyEvents {
  /** Bytes for the log, in order, with when the first of them was read (ms); only valid during the call. */
  chunk(data: Buffer, at: number): void;
  /** Bytes that reached the destination but not the log (its budget), and the last of them. */
  skipped(bytes: number, tail: Buffer): void;
  /** The pipe is at its end (every writer closed it) or its reader went away. */
  end(): void;
  /** The destination failed otherwise than by closing: its bytes are dropped from now on, the log keeps them. */
  failed(code: string): void;
}

export interface LogLimits {
  rate: number;
  burst: number;
  /** Of what the log skips, this many last bytes are handed on anyway (the last stderr lines); 0: none. */
  tailBytes: number;
}

export class PipeCopy {
  private done = false;

  constructor(source: number, destination: number, limits: LogLimits, events: CopyEvents, io: PipeIo = libc().io) {
    const log = new LogFeed(limits.rate, limits.burst, limits.tailBytes, events);
    new Copy(io, source, destination, limits.tailBytes, log, events)
      .run()
      // A bug of ours must not leave the agent blocked on a full pipe: said, and the pipe closed below.
      .catch((err: unknown) => events.failed(errorMessage(err)))
      .finally(() => {
        log.end();
        // Our end goes: an agent still writing learns that its reader went away (EPIPE, SIGPIPE), as it would bare.
        closeAll([source]);
        this.done = true;
        events.end();
      });
  }

  get ended(): boolean {
    return this.done;
  }
}

type Turn = 'more' | 'wait' | 'end';

class Copy {
  /** Reads that are not for the log (a chunk into a file or socket, the end of skipped bytes). */
  private readonly scratch = Buffer.allocUnsafe(PIPE_BYTES);
  private readonly socket: boolean;
  private toPipe: boolean;
  private delivering = true;

  constructor(
    private readonly io: PipeIo,
    private readonly source: number,
    private readonly destination: number,
    private readonly tailBytes: number,
    private readonly log: LogFeed,
    private readonly events: CopyEvents,
  ) {
    const st = kindOf(destination);
    this.socket = st?.isSocket() ?? false;
    this.toPipe = (st?.isFIFO() ?? false) && io.canSplice;
    // A destination pipe as large as ours: at 64 KiB, the reader and the copy would take turns 16 times a
    // megabyte, where the agent bare meets its reader alone.
    if (this.toPipe) libc().growPipe(destination);
  }

  async run(): Promise<void> {
    for (;;) {
      const turn = this.toPipe ? this.teeTurn() : await this.copyOnce();
      if (turn === 'end') return;
      // Another turn of the loop before more: timers, sockets and the log's slices go between.
      if (turn === 'more') await new Promise(setImmediate);
      else if (this.toPipe) await this.waitForEither(this.log.due(Date.now(), WAIT_MS));
    }
  }

  private failed(errno: number): void {
    this.delivering = false;
    this.toPipe = false;
    this.events.failed(errnoNames.get(errno) ?? `errno ${errno}`);
  }

  /** Moves what there is into a destination pipe, up to TURN_BYTES, without waiting. */
  private teeTurn(): Turn {
    for (let moved = 0; moved < TURN_BYTES && this.toPipe; ) {
      const n = this.teeOnce();
      if (n === 'end' || n === 'wait') return n;
      moved += n;
    }
    return 'more';
  }

  /** One chunk into a destination pipe: the bytes moved. */
  private teeOnce(): number | Exclude<Turn, 'more'> {
    const { io, source, destination, log, tailBytes } = this;
    const now = Date.now();
    log.flushIfDue(now);
    // The log's share of the next chunk: all of it into stderr's pipe (its last lines), else what the log takes
    // now. What the log will not take moves into the destination whole: one call, no copy, nothing read.
    const share = tailBytes > 0 ? PIPE_BYTES : Math.min(PIPE_BYTES, log.room(now));
    const logs = share >= MIN_LOGGED_BYTES;
    const n = logs ? io.tee(source, destination, share, SPLICE_F_NONBLOCK) : io.splice(source, destination, PIPE_BYTES, SPLICE_F_NONBLOCK);
    if (n === 0 || n === -EPIPE) return 'end';
    if (n === -EAGAIN) return 'wait';
    if (n < 0) {
      if (n !== -EINTR) this.failed(-n);
      return 0;
    }
    // The destination has them: now out of our pipe, into the log or past it.
    if (!logs) log.skip(n, this.scratch.subarray(0, 0));
    else if (log.wants(n, now)) {
      for (let left = n; left > 0; ) {
        const space = log.space();
        const k = Math.min(left, space.length);
        if (!this.readExactly(space, k)) return 'end';
        log.filled(k, now);
        left -= k;
      }
    } else {
      const last = Math.min(n, tailBytes);
      if (!this.discard(n - last) || !this.readExactly(this.scratch, last)) return 'end';
      log.skip(n, this.scratch.subarray(0, last));
    }
    return n;
  }

  /** One chunk into a file, a socket or anything else but a pipe. */
  private async copyOnce(): Promise<Turn> {
    const { io, source, log } = this;
    const now = Date.now();
    log.flushIfDue(now);
    // Readable or hung up, a read does not wait; nothing returned means the wait only ran out.
    if (io.ready(source, POLLIN) === 0 && (await io.poll(source, POLLIN, log.due(now, WAIT_MS))) <= 0) return 'wait';
    // What the log takes is read where the log keeps it, and not copied again.
    const room = log.room(now);
    const into = room >= MIN_LOGGED_BYTES ? log.space().subarray(0, room) : this.scratch;
    const n = io.read(source, into, into.length);
    if (n === 0) return 'end';
    if (n < 0) return 'wait';
    if (this.delivering) {
      const outcome = await this.writeAll(into.subarray(0, n));
      if (outcome === -EPIPE) return 'end';
      if (outcome < 0) this.failed(-outcome);
    }
    if (into !== this.scratch && log.wants(n, now)) log.filled(n, now);
    else log.skip(n, into.subarray(Math.max(0, n - this.tailBytes), n));
    return 'more';
  }

  /**
   * After a move found nothing to do: waits for the side that was not ready, the source empty (up to `ms`) or
   * the destination full. Polls only: asking a pipe how full it is (FIONREAD) takes the lock the agent writes under.
   */
  private async waitForEither(ms: number): Promise<void> {
    if (this.io.ready(this.source, POLLIN) === 0) await this.io.poll(this.source, POLLIN, ms);
    else await this.io.poll(this.destination, POLLOUT, WAIT_MS);
  }

  /** Reads exactly `n` bytes that are known to be in the source; false if they were not (closed under us). */
  private readExactly(into: Buffer, n: number): boolean {
    for (let at = 0; at < n; ) {
      const r = this.io.read(this.source, into.subarray(at), n - at);
      if (r > 0) at += r;
      else if (r !== -EINTR) return false;
    }
    return true;
  }

  /** Drops `n` bytes that are known to be in the source without copying them out of the kernel, where it can. */
  private discard(n: number): boolean {
    for (let left = n; left > 0; ) {
      const sink = devNull();
      const r = sink < 0 ? -1 : this.io.splice(this.source, sink, left, 0);
      if (r > 0) left -= r;
      else if (r !== -EINTR) {
        const k = Math.min(left, this.scratch.length);
        if (!this.readExactly(this.scratch, k)) return false;
        left -= k;
      }
    }
    return true;
  }

  /**
   * Writes all of `data`: into a socket without ever waiting in the call, into anything else on the pool (a
   * file's write may wait on its disk): 0, or the errno as a negative number.
   */
  private async writeAll(data: Buffer): Promise<number> {
    const { io, destination } = this;
    for (let at = 0; at < data.length; ) {
      const rest = data.subarray(at);
      const n = this.socket ? io.send(destination, rest, rest.length) : await io.write(destination, rest, rest.length);
      if (n >= 0) at += n;
      else if (n === -EAGAIN) await io.poll(destination, POLLOUT, WAIT_MS);
      else if (n !== -EINTR) return n;
    }
    return 0;
  }
}

function kindOf(fd: number): ReturnType<typeof fstatSync> | undefined {
  try {
    return fstatSync(fd);
  } catch {
    // Closed: the first write says how.
    return undefined;
  }
}

let sink: number | undefined;

/** Where skipped bytes go without leaving the kernel (splice); opened once, for every copy; -1 where it cannot be. */
function devNull(): number {
  try {
    sink ??= openSync('/dev/null', 'w');
  } catch {
    sink = -1;
  }
  return sink;
}

/** Closes fds of ours the agent now holds (the pipes' write ends): only the agent's tree keeps the pipes open. */
export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}
