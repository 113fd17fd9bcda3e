// Reading a state dir's journals back: every file of a journal (rotated ones first, oldest first; gzip or
// plain), streamed line by line. A line that is not a record is counted and skipped, a file that breaks off
// (a torn gzip) keeps the lines read before the break: a report never fails on what a crash left behind.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { namesIn } from '../common/statedir.js';

/** Where a journal's lines went: read, skipped as not a record, or lost to a file that could not be read. */
export interface JournalCounts {
  files: number;
  lines: number;
  skipped: number;
  /** Files that could not be read to their end, each with why. */
  unreadable: string[];
}

export const emptyCounts = (): JournalCounts => ({ files: 0, lines: 0, skipped: 0, unreadable: [] });

const ROTATED = /^\.(\d{8}-\d{6}\.\d{3})(?:-(\d+))?(?:\.gz)?$/;
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * The files of journal `name` in `dir`, in the order they were written: `<name>.<YYYYMMDD-HHMMSS.mmm>[-n][.gz]`
 * by time then n, the live `<name>` (or `<name>.gz`) last.
 */
export async function journalFiles(dir: string, name: string): Promise<string[]> {
  const entries = await namesIn(dir);
  const rotated: { file: string; stamp: string; index: number }[] = [];
  const live: string[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(name)) continue;
    const rest = entry.slice(name.length);
    if (rest === '' || rest === '.gz') live.push(entry);
    const m = ROTATED.exec(rest);
    if (m) rotated.push({ file: entry, stamp: m[1]!, index: Number(m[2] ?? 1) });
  }
  rotated.sort((a, b) => a.stamp.localeCompare(b.stamp) || a.index - b.index);
  return [...rotated.map((r) => r.file), ...live.sort().reverse()].map((f) => path.join(dir, f));
}

/** Gzip is told by its magic bytes, not by its name: a rotation may or may not have named it `.gz`. */
async function isGzip(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

async function* linesOf(stream: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream) {
    const parts = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  rest += decoder.end();
  if (rest) yield rest;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'Z_BUF_ERROR' || e.code === 'Z_DATA_ERROR') return 'compressed data broken off or corrupt';
  if (e.code === 'EACCES') return 'permission denied';
  return e.message ?? String(err);
}

/**
 * Streams the JSON records of every file of a journal to `onRecord`. `parse` turns a parsed line into a
 * record or undefined (counted as skipped); blank lines are nothing.
 */
export async function readJournal<T>(
  dir: string,
  name: string,
  parse: (raw: unknown) => T | undefined,
  onRecord: (record: T) => void,
  counts: JournalCounts,
): Promise<void> {
  for (const file of await journalFiles(dir, name)) {
    counts.files++;
    try {
      const gzip = await isGzip(file);
      const raw = createReadStream(file);
      const input = gzip ? raw.pipe(createGunzip()) : raw;
      // pipe() does not forward the source's errors; the gunzip stream must fail with it.
      if (input !== raw) raw.once('error', (err) => input.destroy(err));
      for await (const line of linesOf(input)) {
        if (line.trim() === '') continue;
        counts.lines++;
        let record: T | undefined;
        try {
          record = parse(JSON.parse(line));
        } catch {
          record = undefined;
        }
        if (record === undefined) counts.skipped++;
        else onRecord(record);
      }
    } catch (err) {
      counts.unreadable.push(`${path.basename(file)}: ${describe(err)}`);
    }
  }
}
