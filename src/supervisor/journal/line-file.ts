// One journal file of whole lines that outlives a full disk. Each line is appended with one synchronous write
// and is either all there or not at all: a short write or a write error is cut back off with ftruncate, the
// line is counted as dropped (or held in a small queue, for the run records), and the next write simply tries
// again, so writing resumes by itself when space returns. The file rotates by size between two lines, into
// time-ordered names, so a line is never split across files.
import { closeSync, constants, fstatSync, ftruncateSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../common/errors.js';
import { openPrivateFile } from '../../common/statedir.js';

export interface LineFileOptions {
  /** A line that would take the file past this size goes into a fresh file (alone, if it is bigger). */
  maxBytes: number;
  /** Rotated files kept beside the live one; older ones are deleted. */
  keep: number;
  /** Lines kept in memory while the disk refuses them, written first once it takes them again; 0 drops at once. */
  pendingMax?: number;
  /** Called once per line lost, with the number this file has lost so far. */
  onDrop?: (dropped: number) => void;
}

/**
 * Rotated files are named `<name>.<UTC time to the ms>[-n]`, so they sort in the order they were written.
 */
export function rotatedName(base: string, time: Date, index = 1): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace('T', '-').replace('Z', '');
  return `${base}.${stamp}${index > 1 ? `-${index}` : ''}`;
}

/** What follows `<name>` in a rotated file's name. */
const ROTATED = /^\.(\d{8}-\d{6}\.\d{3})(?:-(\d+))?$/;

export class LineFile {
  private fd: number | undefined;
  private size = 0;
  /** Where the file must be cut back to before anything else is written: a failed cut is retried. */
  private cutTo: number | undefined;
  private readonly queue: Buffer[] = [];
  private lost = 0;
  private closed = false;

  /** Throws UsageError when the file is there but not ours to write (see openPrivateFile). */
  constructor(
    readonly file: string,
    private readonly opts: LineFileOptions,
  ) {
    try {
      this.open();
    } catch (err) {
      // A disk too full even to create the file is retried at the first write; a planted file is refused now.
      if (err instanceof UsageError) throw err;
    }
  }

  get dropped(): number {
    return this.lost;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** pino's destination: one whole line per call. Never throws. */
  write(line: string): void {
    if (this.closed) return this.drop();
    const data = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    this.flushPending();
    if (this.queue.length > 0 || !this.append(data)) this.keepOrDrop(data);
  }

  /** Writes the lines held back, oldest first, as far as the disk takes them. */
  flushPending(): void {
    while (this.queue.length > 0 && this.append(this.queue[0]!)) this.queue.shift();
  }

  /** Last attempt at what is held back; whatever the disk still refuses is lost and counted. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushPending();
    const left = this.queue.length;
    this.queue.length = 0;
    for (let i = 0; i < left; i++) this.drop();
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  private keepOrDrop(data: Buffer): void {
    const max = this.opts.pendingMax ?? 0;
    if (max > 0) {
      this.queue.push(data);
      if (this.queue.length <= max) return;
      this.queue.shift();
    }
    this.drop();
  }

  private drop(): void {
    this.lost += 1;
    this.opts.onDrop?.(this.lost);
  }

  private open(): number {
    const fd = openPrivateFile(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    this.fd = fd;
    this.size = fstatSync(fd).size;
    return fd;
  }

  private append(data: Buffer): boolean {
    try {
      if (this.fd !== undefined && this.cutTo !== undefined) {
        ftruncateSync(this.fd, this.cutTo);
        this.size = this.cutTo;
        this.cutTo = undefined;
      }
      if (this.fd !== undefined && fstatSync(this.fd).nlink === 0) this.reopen();
      if (this.fd !== undefined && this.size > 0 && this.size + data.length > this.opts.maxBytes) this.rotate();
      const fd = this.fd ?? this.open();
      let written = 0;
      try {
        while (written < data.length) {
          const n = writeSync(fd, data, written);
          if (n <= 0) return this.cut(fd, written);
          written += n;
        }
      } catch {
        return this.cut(fd, written);
      }
      this.size += written;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The file was deleted under us (`rm -rf <state-dir>/*`): what is written to its descriptor reaches no one, so
   * a new file takes the next line (and a run record held back, if any).
   */
  private reopen(): void {
    const fd = this.fd!;
    this.fd = undefined;
    this.size = 0;
    this.cutTo = undefined;
    closeSync(fd);
  }

  /** Takes a partly written line back off the end of the file; returns false, the line was not written. */
  private cut(fd: number, written: number): false {
    if (written === 0) return false;
    try {
      ftruncateSync(fd, this.size);
    } catch {
      this.cutTo = this.size;
    }
    return false;
  }

  private rotate(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    const now = new Date();
    try {
      const taken = new Set(readdirSync(dir));
      let index = 1;
      while (taken.has(rotatedName(base, now, index))) index += 1;
      renameSync(this.file, path.join(dir, rotatedName(base, now, index)));
    } catch {
      // Better a file over its size than a lost line: rotation is tried again at the next write.
      return;
    }
    const fd = this.fd!;
    this.fd = undefined;
    this.size = 0;
    closeSync(fd);
    try {
      this.prune(dir, base);
    } catch {
      // The next rotation prunes again.
    }
  }

  private prune(dir: string, base: string): void {
    const rotated = readdirSync(dir)
      .flatMap((name) => {
        const m = name.startsWith(base) ? ROTATED.exec(name.slice(base.length)) : null;
        return m ? [{ name, stamp: m[1]!, index: Number(m[2] ?? 1) }] : [];
      })
      .sort((a, b) => (a.stamp === b.stamp ? a.index - b.index : a.stamp < b.stamp ? -1 : 1));
    for (const { name } of rotated.slice(0, Math.max(0, rotated.length - this.opts.keep))) {
      rmSync(path.join(dir, name), { force: true });
    }
  }
}
