import { stat } from 'node:fs/promises';
import {
  type AnalyzeOptions,
  type CaptureKind,
  closeSharedAnalysisPool,
  detectKind,
  diffFiles,
  analyzeFile,
  formatReport,
  KIND_NAMES,
  writePprof,
} from '../analysis/index.js';
import { inert, out, printJson } from './output.js';

const DEFAULT_TOP = 10;
const MAX_TOP = 10_000;
/** Below this a snapshot is read in a blink and a bar would only flicker. */
const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;
const BAR_WIDTH = 30;

class UsageError extends Error {}

function progressBar(): NonNullable<AnalyzeOptions['onProgress']> & { clear(): void } {
  const stream = process.stderr;
  let drawn = false;
  const draw = (done: number, total: number): void => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const mb = (b: number): string => (b / 1024 / 1024).toFixed(0);
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${mb(done)}/${mb(total)} MiB  ${done < total ? 'reading snapshot' : 'computing dominators'}`);
    drawn = true;
  };
  return Object.assign(draw, {
    clear(): void {
      if (drawn) stream.write('\r\x1b[K');
    },
  });
}

function parseTop(top: number | undefined): number | undefined {
  if (top === undefined) return undefined;
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) throw new UsageError(`--top must be a whole number from 1 to ${MAX_TOP}`);
  return top;
}

async function wantsProgress(kind: CaptureKind, files: string[]): Promise<boolean> {
  if (kind !== 'heapsnapshot' || !process.stderr.isTTY) return false;
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  return sizes.reduce((a, b) => a + b, 0) >= PROGRESS_MIN_BYTES;
}

/** `--pprof <out>`: the profile converted for continuous profilers, and a line saying what was written. */
async function pprofCommand(files: string[], output: string, json: boolean | undefined): Promise<void> {
  if (files.length !== 1) throw new UsageError('--pprof converts one heap profile: give one file');
  const written = await writePprof(files[0]!, output);
  if (json) printJson({ pprof: output, ...written });
  else out(`${output}: pprof profile (inuse_objects, inuse_space), stacks: ${written.samples}, frames: ${written.locations}`);
}

/**
 * `cfn-supervise analyze <file> [<file2>] [--json] [--top N] [--pprof <out>]`: a report on one capture, a diff
 * of two of the same kind, or a heap profile written as pprof. Exit 0 on success, 2 on a usage error, 1 on a
 * file that cannot be analysed or written.
 */
export async function analyzeCommand(files: string[], opts: { json?: boolean; top?: number; pprof?: string }): Promise<number> {
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    if (opts.pprof !== undefined) {
      await pprofCommand(files, opts.pprof, opts.json);
      return 0;
    }
    if (files.length < 1 || files.length > 2) throw new UsageError('expected one file, or two to compare');
    const top = parseTop(opts.top);
    const kinds = await Promise.all(files.map(detectKind));
    if (kinds[1] !== undefined && kinds[0] !== kinds[1]) {
      throw new UsageError(`cannot compare a ${KIND_NAMES[kinds[0]!]} with a ${KIND_NAMES[kinds[1]]}; give two files of one kind`);
    }
    if (await wantsProgress(kinds[0]!, files)) bar = progressBar();
    const options: AnalyzeOptions = { top: top ?? DEFAULT_TOP, ...(bar ? { onProgress: bar } : {}) };
    const result = files.length === 2 ? await diffFiles(files[0]!, files[1]!, options) : await analyzeFile(files[0]!, options);
    bar?.clear();
    if (opts.json) printJson(result);
    else out(formatReport(result));
    return 0;
  } catch (err) {
    bar?.clear();
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`cfn-supervise analyze: ${inert(message.split('\n')[0]!, true)}\n`);
    if (err instanceof UsageError) return 2;
    return 1;
  } finally {
    await closeSharedAnalysisPool();
  }
}
