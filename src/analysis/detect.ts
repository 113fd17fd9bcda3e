import { open } from 'node:fs/promises';
import { AnalysisError } from './errors.js';

export type CaptureKind = 'heapprofile' | 'heapsnapshot';

export const KIND_NAMES: Record<CaptureKind, string> = { heapprofile: 'heap profile', heapsnapshot: 'heap snapshot' };

const PROBE_BYTES = 4096;

/** Why a file cannot be opened, in words, for the errors people see. */
export function describeIoError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Tells a heap snapshot from a sampling heap profile by the first key of its JSON object. */
export async function detectKind(path: string): Promise<CaptureKind> {
  let head: string;
  try {
    const fh = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(PROBE_BYTES);
      const { bytesRead } = await fh.read(buffer, 0, PROBE_BYTES, 0);
      head = buffer.toString('utf8', 0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new AnalysisError(`${path}: ${describeIoError(err)}`);
  }
  const text = head.replace(/^\uFEFF/, '').trimStart();
  if (text === '') throw new AnalysisError(`${path}: empty file`);
  const firstKey = /^\{\s*"([A-Za-z_]+)"\s*:/.exec(text)?.[1];
  // V8's snapshots open with their "snapshot" header, JavaScriptCore's (Bun's) with their "version".
  if (firstKey === 'snapshot' || firstKey === 'version') return 'heapsnapshot';
  if (firstKey === 'head' || firstKey === 'samples') return 'heapprofile';
  throw new AnalysisError(`${path}: not a heap profile (.heapprofile) or heap snapshot (.heapsnapshot)`);
}
