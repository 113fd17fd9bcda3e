// What the agent log is handed of one pipe: the bytes its budget (LogBudget) takes, read straight into one batch
// and handed on at BATCH_BYTES or BATCH_MS with the time of its first read (one log write for many lines), and
// for the bytes it does not take, their count and the end of them the last stderr lines need.
import type { CopyEvents } from './copy.js';
import { LogBudget } from './lines.js';

/** Handed to the log at this size, or this old. */
const BATCH_BYTES = 256 * 1024;
const BATCH_MS = 20;

export class LogFeed {
  private readonly budget: LogBudget;
  /** Reused: what the log is handed is decoded before the next read (LineSplitter keeps strings, not bytes). */
  private readonly batch = Buffer.allocUnsafe(BATCH_BYTES);
  private batched = 0;
  private batchAt = 0;
  private skipped = 0;
  private tail: Buffer = Buffer.alloc(0);

  constructor(
    rate: number,
    burst: number,
    private readonly tailBytes: number,
    private readonly events: CopyEvents,
  ) {
    this.budget = new LogBudget(rate, burst);
  }

  /** Whether the log would take bytes now, counting nothing. */
  get open(): boolean {
    return this.budget.allows(1, Date.now());
  }

  /** Whether the log takes the next `bytes` read; if not, skip() them. */
  wants(bytes: number, now: number): boolean {
    return this.budget.take(bytes, now);
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

  /** Everything held goes to the log, in order. */
  flush(): void {
    this.flushSkipped();
    this.flushBatch();
  }

  private flushBatch(): void {
    if (this.batched === 0) return;
    const batched = this.batched;
    this.batched = 0;
    this.events.chunk(this.batch.subarray(0, batched), this.batchAt);
  }

  private flushSkipped(): void {
    if (this.skipped === 0) return;
    const [bytes, tail] = [this.skipped, this.tail];
    this.skipped = 0;
    this.tail = Buffer.alloc(0);
    this.events.skipped(bytes, tail);
  }
}
