import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createPendingFile, writeFileAtomic } from '../../common/atomic-write.js';
import { ensurePrivateDir, namesIn } from '../../common/statedir.js';
import { MB } from '../../common/units.js';

export type CaptureKind = 'heapprofile' | 'heapsnapshot';

export interface RetentionOptions {
  maxFiles: number;
  maxBytes: number;
}

/** A capture under its final name, and its size as its writer counted the bytes. */
export interface Capture {
  file: string;
  bytes: number;
}

/** The retention options of the configuration (--captures-keep, --captures-max-mb). */
export const retentionOf = (c: { capturesKeep: number; capturesMaxMb: number }): RetentionOptions => ({ maxFiles: c.capturesKeep, maxBytes: c.capturesMaxMb * MB });

const CAPTURE_NAME = String.raw`\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-\d+-[a-z0-9-]+\.(heapprofile|heapsnapshot)`;
const CAPTURE_FILE = new RegExp(`^${CAPTURE_NAME}$`);
const TMP_FILE = /^\..+\.tmp$/;
/** The temporary name atomic-write.ts gives a capture, and nothing else. */
const OUR_TMP_FILE = new RegExp(`^\\.${CAPTURE_NAME}\\.[0-9a-f]{12}\\.tmp$`);
/** What analysis writes beside a capture (analysis/index.ts); it lives and goes with its capture. */
const SUMMARY_SUFFIX = '.summary.json';
// A temporary file this old belongs to a supervisor that died mid-capture; a live snapshot writes far more often.
const STALE_TMP_MS = 60 * 60 * 1000;

/** `2025-11-21T08-50-00.123Z-1234-alert.heapprofile`: sorts by time, safe in any shell, no colons. */
export function captureName(pid: number, reason: string, kind: CaptureKind, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/:/g, '-');
  const slug = reason.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'capture';
  return `${stamp}-${pid}-${slug}.${kind}`;
}

/**
 * The captures folder, as every way into a process (probe, Bun link, inspector port) writes it: a capture carries
 * its capture name only once complete, and after each one the oldest go past the retention limits. The one place
 * that keeps that book, so the sizes it hands back are the ones the writer counted, never read again from disk.
 */
export class CapturesFolder {
  constructor(
    readonly dir: string,
    private readonly retention?: RetentionOptions,
    private readonly log?: { info(obj: object, msg?: string): void },
  ) {}

  /** Writes `data` as the capture `name`. */
  async write(name: string, data: string | Uint8Array): Promise<Capture> {
    ensurePrivateDir(this.dir);
    const file = path.join(this.dir, name);
    await writeFileAtomic(file, data);
    return this.kept({ file, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength });
  }

  /**
   * Gives `fill` an empty 0600 file under a hidden temporary name to write the capture `name` into (a probe is
   * given the path); `fill` returns the bytes it wrote. A fill that fails leaves no file.
   */
  async take(name: string, fill: (tmpPath: string) => Promise<number>): Promise<Capture> {
    ensurePrivateDir(this.dir);
    const pending = await createPendingFile(path.join(this.dir, name));
    let capture: Capture;
    try {
      const bytes = await fill(pending.tmpPath);
      capture = { file: await pending.commit(), bytes };
    } catch (err) {
      await pending.abort();
      throw err;
    }
    return this.kept(capture);
  }

  private async kept(capture: Capture): Promise<Capture> {
    if (this.retention) {
      const removed = await enforceRetention(this.dir, this.retention);
      if (removed.length > 0) this.log?.info({ removed }, 'old captures removed');
    }
    return capture;
  }
}

/**
 * Removes what a writer that died (a supervisor killed mid-snapshot) left under a temporary name: only regular
 * files of ours named as CapturesFolder names them. For when no capture of this folder can be in flight:
 * a supervisor's start, holding the state dir's lock, and `cleanup` without a supervisor.
 */
export async function removeLeftTemps(dir: string): Promise<string[]> {
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of await namesIn(dir)) {
    if (!OUR_TMP_FILE.test(name)) continue;
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile() || (uid !== undefined && st.uid !== uid)) continue;
    await fs.rm(file, { force: true });
    removed.push(file);
  }
  return removed;
}

/**
 * Deletes the oldest captures, each with its summary, until at most `maxFiles` remain and they total (summaries
 * included) at most `maxBytes`. The newest capture is always kept, even alone over `maxBytes`: deleting what
 * was just taken helps nobody. Also removes summaries whose capture is gone and temporary files left by a
 * writer that died.
 */
export async function enforceRetention(dir: string, opts: RetentionOptions): Promise<string[]> {
  const names = await namesIn(dir);
  const removed: string[] = [];
  const now = Date.now();
  const remove = async (file: string) => {
    await fs.rm(file, { force: true });
    removed.push(file);
  };
  const captures: { file: string; size: number }[] = [];
  const summaries = new Map<string, number>();
  for (const name of names) {
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (CAPTURE_FILE.test(name)) captures.push({ file, size: st.size });
    else if (name.endsWith(SUMMARY_SUFFIX) && CAPTURE_FILE.test(name.slice(0, -SUMMARY_SUFFIX.length))) summaries.set(file, st.size);
    else if (TMP_FILE.test(name) && now - st.mtimeMs > STALE_TMP_MS) await remove(file);
  }
  captures.sort((a, b) => (a.file < b.file ? 1 : a.file > b.file ? -1 : 0));
  let count = 0;
  let bytes = 0;
  for (const c of captures) {
    const summary = `${c.file}${SUMMARY_SUFFIX}`;
    const size = c.size + (summaries.get(summary) ?? 0);
    count += 1;
    bytes += size;
    if (count > 1 && (count > opts.maxFiles || bytes > opts.maxBytes)) {
      await remove(c.file);
      count -= 1;
      bytes -= size;
    } else summaries.delete(summary);
  }
  // Left: the summaries of the captures just removed, and of captures removed by hand.
  for (const summary of summaries.keys()) await remove(summary);
  return removed;
}
