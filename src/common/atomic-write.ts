// Files replaced whole: written under a temporary name beside their target, then renamed over it, so whoever
// reads one (the watchdog its ledger, a browser its page, the next supervisor a report) finds the old file or the
// new one, never half of one, and a write that fails leaves neither a cut file nor its temporary one.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, promises as fs, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `.<name>.<12 hex digits>.tmp` beside `target`: hidden, random so that no two writers (two processes, or two
 * writes of one) ever share one, and of a shape that the cleanup of what a dead writer left can recognise.
 */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

// Created here or not at all: never through a link planted at the name, never a file someone else made there.
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
// Explicitly after creation as well: a umask may take bits off the mode `open` was given.
const MODE = 0o600;

/** A file under its temporary name; only `commit` gives it its final name. */
export interface PendingFile {
  readonly tmpPath: string;
  readonly finalPath: string;
  /** Renames it to `finalPath`, which it returns. */
  commit(): Promise<string>;
  /** Removes it, whatever was written into it. */
  abort(): Promise<void>;
}

async function openTemp(target: string): Promise<{ tmpPath: string; handle: fs.FileHandle }> {
  const tmpPath = tempPathFor(target);
  const handle = await fs.open(tmpPath, CREATE, MODE);
  try {
    await handle.chmod(MODE);
  } catch (err) {
    await handle.close();
    await fs.rm(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, handle };
}

/** An empty 0600 file beside `target`, for a writer that is given its path (a probe streaming a snapshot into it). */
export async function createPendingFile(target: string): Promise<PendingFile> {
  const { tmpPath, handle } = await openTemp(target);
  await handle.close();
  return {
    tmpPath,
    finalPath: target,
    async commit() {
      await fs.rename(tmpPath, target);
      return target;
    },
    async abort() {
      await fs.rm(tmpPath, { force: true });
    },
  };
}

/** Replaces `target` with a 0600 file holding `data`, or, when that fails, leaves it as it was and throws. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const { tmpPath, handle } = await openTemp(target);
  try {
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    await fs.rename(tmpPath, target);
  } catch (err) {
    await fs.rm(tmpPath, { force: true });
    throw err;
  }
}

/** writeFileAtomic for a caller that must not yield (the ledger between two ticks, a report being read). */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  const tmpPath = tempPathFor(target);
  const fd = openSync(tmpPath, CREATE, MODE);
  try {
    try {
      fchmodSync(fd, MODE);
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpPath, target);
  } catch (err) {
    rmSync(tmpPath, { force: true });
    throw err;
  }
}
