// The agent's output as kept in the state dir: `logs/agent.log`, one JSON line per line the agent wrote, with
// when the supervisor read it, the run and the stream; redacted like the journals, rotated by size with a total
// cap, written whole by LineFile (a full disk drops and counts, never cuts). `cfn-supervise logs` reads it back.
import path from 'node:path';
import { redactText } from '../../common/redact.js';
import { ensurePrivateDir } from '../../common/statedir.js';
import { LineFile } from '../journal/line-file.js';
import type { Line } from './lines.js';
import type { StreamName } from './plan.js';

export const AGENT_LOG = 'agent.log';
/** 10 MiB a file, nine rotated ones kept: at most ~100 MiB of the agent's output. */
const FILE_BYTES = 10 * 1024 * 1024;
const ROTATED_KEPT = 9;

/** One line of agent.log, as `logs --json` prints it. */
export interface AgentLogRecord {
  ts: string;
  run: string;
  stream: StreamName;
  line: string;
  partial?: true;
  /** On a line the supervisor wrote itself: bytes of the stream before it that were copied but not logged. */
  skipped?: number;
}

export class AgentLog {
  private readonly file: LineFile;

  constructor(dir: string, onDrop?: (dropped: number) => void) {
    ensurePrivateDir(dir);
    this.file = new LineFile(path.join(dir, AGENT_LOG), { maxBytes: FILE_BYTES, keep: ROTATED_KEPT, ...(onDrop ? { onDrop } : {}) });
  }

  /** The lines of one read, stamped with one time: one write for all of them. */
  write(run: string, stream: StreamName, lines: readonly Line[]): void {
    if (lines.length === 0) return;
    // Built by hand around the escaped line: the key order of AgentLogRecord, at a fraction of the cost.
    const head = `{"ts":"${new Date().toISOString()}","run":${JSON.stringify(run)},"stream":"${stream}","line":`;
    let text = '';
    for (const l of lines) text += `${text ? '\n' : ''}${head}${JSON.stringify(redactText(l.text))}${l.partial ? ',"partial":true}' : '}'}`;
    this.file.write(text);
  }

  /** Says where output went unlogged, so a reader knows the log has a hole there and how big. */
  skipped(run: string, stream: StreamName, bytes: number): void {
    const line = `[cfn-supervise: ${bytes} bytes of ${stream} not logged here: more than the log keeps up with; they reached their destination]`;
    this.file.write(JSON.stringify({ ts: new Date().toISOString(), run, stream, line, skipped: bytes } satisfies AgentLogRecord));
  }

  close(): void {
    this.file.close();
  }
}
