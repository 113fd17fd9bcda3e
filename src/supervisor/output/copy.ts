// One pipe the agent writes into, copied to where the agent's output went before (the supervisor's own fd 1 or
// 2) byte for byte and in order, and handed on for the log. One chunk at a time: the pipe is not read again
// until the destination took the last chunk whole, so a destination that blocks (a paused `less`, a throttled
// journal) fills the pipe and blocks the agent, as it would bare, while the supervisor holds at most one chunk.
// Destination writes are blocking writes on libuv's thread pool: the destination's file description is never
// made non-blocking under the other processes that share it, and the supervisor's loop never waits on it.
import { closeSync, write } from 'node:fs';
import { Socket } from 'node:net';

/** A destination this full says so again after this long (another process set O_NONBLOCK on it). */
const RETRY_FULL_MS = 5;

export interface CopyEvents {
  /** Each chunk read, after its copy to the destination has started. */
  chunk(data: Buffer): void;
  /** The pipe is at its end (every writer closed it) or was closed. */
  end(): void;
  /** The destination failed otherwise than by closing: its bytes are dropped from now on, the log keeps them. */
  failed(err: NodeJS.ErrnoException): void;
}

export class PipeCopy {
  private readonly source: Socket;
  private destinationOk = true;
  private done = false;

  constructor(
    readFd: number,
    private readonly destination: number,
    private readonly events: CopyEvents,
  ) {
    this.source = new Socket({ fd: readFd, readable: true, writable: false });
    this.source.on('data', (data: Buffer) => {
      this.source.pause();
      this.deliver(data, 0);
      events.chunk(data);
    });
    this.source.on('error', () => this.source.destroy());
    this.source.on('close', () => this.finish());
  }

  get ended(): boolean {
    return this.done;
  }

  /** Stops reading: the agent's next write gets EPIPE (SIGPIPE), as it does when its reader goes away. */
  close(): void {
    this.source.destroy();
  }

  private deliver(data: Buffer, offset: number): void {
    if (!this.destinationOk || offset >= data.length) {
      this.source.resume();
      return;
    }
    write(this.destination, data, offset, data.length - offset, null, (err, n) => {
      if (!err) return this.deliver(data, offset + n);
      if (err.code === 'EAGAIN' || err.code === 'EINTR') {
        setTimeout(() => this.deliver(data, offset), RETRY_FULL_MS);
        return;
      }
      // The reader went away (`| head`): so does ours, and the agent learns it the way it would bare.
      if (err.code === 'EPIPE') return this.close();
      this.destinationOk = false;
      this.events.failed(err);
      this.source.resume();
    });
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.events.end();
  }
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
