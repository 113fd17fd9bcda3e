// One pipe the agent writes into, copied to where the agent's output went before (the supervisor's own fd 1 or
// 2) byte for byte and in order, and handed on for the log. The copy runs on a worker thread (copy-worker.ts):
// a destination that blocks (a paused `less`, a throttled journal) fills the pipe and blocks the agent, as it
// would bare, while the supervisor's loop goes on and the memory held stays at one pipe's worth. The destination's
// file description is never made non-blocking under the other processes that share it.
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { CopyJob, CopyMessage } from './copy-worker.js';

/** The worker's own heap: chunks live outside it, in Buffers, and it holds at most a few. */
const WORKER_HEAP_MB = 32;
/** Workers kept waiting for the next run's pipes: one for each stream. */
const IDLE_KEPT = 2;

export interface CopyEvents {
  /** Bytes for the log, in order, with when the first of them was read (ms). */
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

const idle: Worker[] = [];

function startWorker(): Worker {
  const worker = new Worker(new URL('./copy-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
  // The pipes' ends, not the workers, decide how long the supervisor lives; at exit Node ends a worker at its
  // next return from a wait.
  worker.unref();
  return worker;
}

/** Starts the workers a run's pipes will need ahead of it: a worker takes longer to start than an agent. */
export function warmCopies(count: number): void {
  while (idle.length < Math.min(count, IDLE_KEPT)) idle.push(startWorker());
}

export class PipeCopy {
  private done = false;

  constructor(source: number, destination: number, limits: LogLimits, events: CopyEvents) {
    const inFlight = new SharedArrayBuffer(4);
    const taken = new Int32Array(inFlight);
    const worker = idle.pop() ?? startWorker();
    let closed = false;
    const finish = () => {
      // A worker that ended without closing our end (it died) must not leave the agent blocked on a full pipe.
      if (!closed) closeAll([source]);
      closed = true;
      worker.off('message', onMessage).off('error', onError).off('exit', finish);
      if (this.done) return;
      this.done = true;
      events.end();
    };
    const onMessage = (m: CopyMessage) => {
      if (m.kind === 'data') {
        events.chunk(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.at);
        Atomics.sub(taken, 0, m.data.byteLength);
      } else if (m.kind === 'skipped') events.skipped(m.bytes, Buffer.from(m.tail.buffer, m.tail.byteOffset, m.tail.byteLength));
      else if (m.kind === 'failed') events.failed(m.code);
      else {
        closed = true;
        finish();
        if (idle.length < IDLE_KEPT) idle.push(worker);
        else worker.terminate().catch(() => undefined);
      }
    };
    // A worker that could not start or died (out of memory) leaves the pipe to us: said, closed, and ended.
    const onError = (err: Error) => events.failed(err.message);
    worker.on('message', onMessage).on('error', onError).on('exit', finish);
    worker.postMessage({ source, destination, logRate: limits.rate, logBurst: limits.burst, tailBytes: limits.tailBytes, inFlight } satisfies CopyJob);
  }

  get ended(): boolean {
    return this.done;
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
