// What the agent log is handed of one pipe. The bytes its budget (LogBudget) takes are read straight into a
// batch, handed on at BATCH_BYTES or BATCH_MS with the time of its first read (one log write for many lines);
// for the bytes it does not take, their count and the end of them the last stderr lines need. The log's work
// (lines, redaction, JSON) is done a slice per turn of the loop: the copy's next call waits for one slice at
// most, never for a whole flood's lines. Bytes read for the log and not yet handed on are bounded: beyond
// WINDOW_BYTES the log takes nothing until the loop caught up (the copy goes on, as past its budget).
import type { CopyEvents } from './copy.js';
import { LogBudget } from './lines.js';

const BATCH_BYTES = 256 * 1024;
const BATCH_MS = 20;
/** Handed to the log per turn of the loop. */
const SLICE_BYTES = 8 * 1024;
const WINDOW_BYTES = 4 * 1024 * 1024;

type Entry = { data: Buffer; at: number } | { skipped: number; tail: Buffer };

export class LogFeed {
  private readonly budget: LogBudget;
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private batched = 0;
  private batchAt = 0;
  private skipped = 0;
  private tail: Buffer = Buffer.alloc(0);
  /** Handed on, in order, not yet given to the log. */
  private readonly queue: Entry[] = [];
  private queued = 0;
  private draining: NodeJS.Immediate | undefined;

  constructor(
    rate: number,
    burst: number,
    private readonly tailBytes: number,
    private readonly events: CopyEvents,
  ) {
    this.budget = new LogBudget(rate, burst);
  }

  /** How many bytes read now the log would take, counting nothing. */
  room(now: number): number {
    return Math.max(0, Math.min(this.budget.room(now), WINDOW_BYTES - this.queued - this.batched));
  }

  /** Whether the log takes the next `bytes` read; if not, skip() them. */
  wants(bytes: number, now: number): boolean {
    return this.room(now) >= bytes && this.budget.take(bytes, now);
  }

  /** Where the next read for the log goes: the batch's free end (never empty). */
  space(): Buffer {
    if (this.batched === BATCH_BYTES) this.flushBatch();
    return this.batch.subarray(this.batched);
  }

  /** `bytes` were read into space(), `at` (ms). */
  filled(bytes: number, at: number): void {
    this.flushSkipped();
    if (this.batched === 0) this.batchAt = at;
    this.batched += bytes;
  }

  /** Bytes the log does not take, of which `last` are their end (the last stderr lines come from it). */
  skip(bytes: number, last: Buffer): void {
    // Skips in a row are one notice in the log: a flood must not become a line per read.
    this.flushBatch();
    this.skipped += bytes;
    if (last.length > 0) this.tail = Buffer.concat([this.tail, last]).subarray(-this.tailBytes);
  }

  /** How long until the batch is due; `most` when there is none. */
  due(now: number, most: number): number {
    return this.batched === 0 ? most : Math.max(0, Math.min(most, this.batchAt + BATCH_MS - now));
  }

  flushIfDue(now: number): void {
    if (this.batched > 0 && now - this.batchAt >= BATCH_MS) this.flushBatch();
  }

  /** At the pipe's end: everything held goes to the log now, in order. */
  end(): void {
    this.flushSkipped();
    this.flushBatch();
    clearImmediate(this.draining);
    while (this.queue.length > 0) this.drain(Infinity);
  }

  private flushBatch(): void {
    if (this.batched === 0) return;
    this.push({ data: this.batch.subarray(0, this.batched), at: this.batchAt }, this.batched);
    // A new one: the last is still queued. Untouched, its pages cost no memory.
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.batched = 0;
  }

  private flushSkipped(): void {
    if (this.skipped === 0) return;
    this.push({ skipped: this.skipped, tail: this.tail }, 0);
    this.skipped = 0;
    this.tail = Buffer.alloc(0);
  }

  private push(entry: Entry, bytes: number): void {
    this.queue.push(entry);
    this.queued += bytes;
    this.draining ??= setImmediate(this.drainSlice);
  }

  private readonly drainSlice = (): void => {
    this.draining = undefined;
    this.drain(SLICE_BYTES);
    if (this.queue.length > 0) this.draining = setImmediate(this.drainSlice);
  };

  /** Gives the log the queue's first entry, or `bytes` of it. */
  private drain(bytes: number): void {
    const head = this.queue[0]!;
    if ('skipped' in head) {
      this.queue.shift();
      this.events.skipped(head.skipped, head.tail);
      return;
    }
    const slice = head.data.subarray(0, bytes);
    if (slice.length === head.data.length) this.queue.shift();
    else head.data = head.data.subarray(slice.length);
    this.queued -= slice.length;
    this.events.chunk(slice, head.at);
  }
}
