// `cfn-supervise logs [-f] [--lines N] [--run ID] [--json]`: the agent's output as the supervisor kept it in
// <state-dir>/logs, read from the files alone (no supervisor needed). -f follows the live file across rotations
// and new runs until interrupted.
import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../common/errors.js';
import { parseCount } from '../common/units.js';
import { journalFiles } from '../report/journals.js';
import { AGENT_LOG, type AgentLogRecord } from '../supervisor/output/agent-log.js';
import { inert, notice } from './output.js';

export interface LogsOptions {
  follow?: boolean;
  lines?: string;
  run?: string;
  json?: boolean;
}

const DEFAULT_LINES = 20;
const FOLLOW_POLL_MS = 200;
const READ_BYTES = 64 * 1024;

function parseRecord(text: string): AgentLogRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<AgentLogRecord>;
    return typeof r.ts === 'string' && typeof r.run === 'string' && typeof r.stream === 'string' && typeof r.line === 'string' ? (r as AgentLogRecord) : undefined;
  } catch {
    return undefined;
  }
}

export const formatRecord = (r: AgentLogRecord): string => `${r.ts} ${r.run} ${r.stream.padEnd(6)} ${r.line}`;

/** Reads the live file through one descriptor from where it was left; a rotation swaps in the new file. */
class LiveFile {
  private fd: number | undefined;
  private ino = 0;
  private rest = '';

  constructor(private readonly file: string) {}

  /** The whole lines written since the last call, and those of a file that replaced this one. */
  read(): string[] {
    const lines: string[] = [];
    this.drain(lines);
    let st;
    try {
      st = statSync(this.file);
    } catch {
      return lines;
    }
    if (this.fd !== undefined && st.ino === this.ino) return lines;
    this.close();
    try {
      this.fd = openSync(this.file, 'r');
      this.ino = fstatSync(this.fd).ino;
    } catch {
      return lines;
    }
    this.drain(lines);
    return lines;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.rest = '';
  }

  private drain(lines: string[]): void {
    if (this.fd === undefined) return;
    const buf = Buffer.alloc(READ_BYTES);
    for (let n = readSync(this.fd, buf); n > 0; n = readSync(this.fd, buf)) {
      const parts = (this.rest + buf.toString('utf8', 0, n)).split('\n');
      this.rest = parts.pop()!;
      lines.push(...parts);
    }
  }
}

/** The last `count` records (of `run`, if given) before the live file's `live` lines, newest file last. */
async function tail(dir: string, live: string[], count: number, keep: (r: AgentLogRecord) => boolean): Promise<AgentLogRecord[]> {
  const found: AgentLogRecord[][] = [];
  let total = 0;
  const take = (lines: string[]) => {
    const kept: AgentLogRecord[] = [];
    for (let i = lines.length - 1; i >= 0 && total < count; i--) {
      const r = parseRecord(lines[i]!);
      if (r && keep(r)) {
        kept.unshift(r);
        total++;
      }
    }
    found.unshift(kept);
  };
  take(live);
  const rotated = (await journalFiles(dir, AGENT_LOG)).filter((f) => path.basename(f) !== AGENT_LOG).reverse();
  for (const file of rotated) {
    if (total >= count) break;
    try {
      take(readFileSync(file, 'utf8').split('\n'));
    } catch {
      // Pruned while we read: what is left still shows.
    }
  }
  return found.flat();
}

export async function logsCommand(stateDir: string, opts: LogsOptions): Promise<number> {
  const count = opts.lines === undefined ? DEFAULT_LINES : linesOf(opts.lines);
  if (opts.run === '') throw new UsageError('--run needs a run id, as runs.jsonl names it (run_id)');
  const dir = path.join(stateDir, 'logs');
  const keep = (r: AgentLogRecord) => opts.run === undefined || r.run === opts.run;
  const show = async (r: AgentLogRecord) => {
    const text = opts.json ? JSON.stringify(r) : inert(formatRecord(r));
    // A reader slower than the file (a pager, a pipe): wait for it, and never leave before it has every line.
    if (!process.stdout.write(`${text}\n`)) await once(process.stdout, 'drain');
  };
  const live = new LiveFile(path.join(dir, AGENT_LOG));
  const first = await tail(dir, live.read(), count, keep);
  if (first.length === 0 && !opts.follow && (await journalFiles(dir, AGENT_LOG)).length === 0) {
    notice(`no agent log in ${dir}: the agent's output is kept there when it is not a terminal (unless --no-agent-log)`);
    return 1;
  }
  for (const r of first) await show(r);
  if (!opts.follow) return 0;
  for (;;) {
    await sleep(FOLLOW_POLL_MS);
    for (const line of live.read()) {
      const r = parseRecord(line);
      if (r && keep(r)) await show(r);
    }
  }
}

function linesOf(raw: string): number {
  try {
    return parseCount(raw);
  } catch (err) {
    throw new UsageError(`--lines: ${(err as Error).message}`);
  }
}
