// What the dashboard's page is sent: the supervisor's status and processes (polled over the control socket at
// its own sampling interval, one request at a time, each with a deadline), the newest alerts from alerts.jsonl
// and the newest captures. It polls only while a page listens: an unwatched dashboard asks the supervisor nothing.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NoSupervisorError, SupervisorUnresponsive, errorMessage } from '../common/errors.js';
import type { ProcessView, StatusView } from '../supervisor/control/protocol.js';
import type { ControlClient } from './client.js';
import { type AlertEntry, lastAlerts } from './diagnostics.js';
import { type Series, Trails } from './dashboard-trails.js';
import { fetchStatus } from './view.js';

const REQUEST_TIMEOUT_MS = 5_000;
const MIN_POLL_MS = 1_000;
const ALERTS = 30;
const CAPTURES = 20;
/** `<ISO time with dashes>-<pid>-<reason>.heapprofile|heapsnapshot`, as journal/captures.ts names them. */
export const CAPTURE_FILE = /^(\d{4}-\d{2}-\d{2}T[\d.-]+Z)-(\d+)-[a-z0-9-]+\.(heapprofile|heapsnapshot)$/;

export interface CaptureEntry {
  file: string;
  kind: 'heapprofile' | 'heapsnapshot';
  pid: number;
  at: string;
  bytes: number;
  analysed: boolean;
}

/** The page needs no history (the sparklines draw it) nor each process's thresholds (the status has them). */
export type DashProcess = Omit<ProcessView, 'history' | 'thresholds'> & { spark: Record<Series, string> };

export interface Snapshot {
  at: string;
  /** up: answering; gone: no supervisor in the state dir; unresponsive: stopped or hung; error: anything else. */
  supervisor: 'up' | 'gone' | 'unresponsive' | 'error';
  problem?: string;
  status?: StatusView;
  processes: DashProcess[];
  alerts: AlertEntry[];
  captures: CaptureEntry[];
}

/** The newest captures in `dir`, newest first; names sort by time. */
export async function listCaptures(dir: string, n = CAPTURES): Promise<CaptureEntry[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const analysed = new Set(names.filter((f) => f.endsWith('.summary.json')).map((f) => f.slice(0, -'.summary.json'.length)));
  const entries: CaptureEntry[] = [];
  for (const file of names.filter((f) => CAPTURE_FILE.test(f)).sort().reverse().slice(0, n)) {
    const [, stamp, pid, kind] = CAPTURE_FILE.exec(file)!;
    const st = await fs.stat(path.join(dir, file)).catch(() => undefined);
    if (!st?.isFile()) continue;
    const at = stamp!.replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3');
    entries.push({ file, kind: kind as CaptureEntry['kind'], pid: Number(pid), at, bytes: st.size, analysed: analysed.has(file) });
  }
  return entries;
}

function judged(err: unknown): Pick<Snapshot, 'supervisor' | 'problem'> {
  if (err instanceof NoSupervisorError) return { supervisor: 'gone', problem: err.message };
  if (err instanceof SupervisorUnresponsive) return { supervisor: 'unresponsive', problem: err.message };
  return { supervisor: 'error', problem: errorMessage(err) };
}

export class Feed {
  private readonly trails = new Trails();
  private capturesDir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private listeners = new Set<(s: Snapshot) => void>();
  last: Snapshot | undefined;

  constructor(
    private readonly client: ControlClient,
    private readonly stateDir: string,
  ) {}

  /** Starts polling with the first listener; the snapshot so far is sent to it at once. */
  subscribe(listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    if (this.listeners.size === 1) this.refresh();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The captures folder of the supervisor (its live config), asked once per supervisor. */
  async captures(): Promise<string> {
    this.capturesDir ??= String((await this.client.request<Record<string, unknown>>('GET', '/config', { timeoutMs: REQUEST_TIMEOUT_MS }))['captures-dir']);
    return this.capturesDir;
  }

  /** Polls now (after an action, so the page shows its effect without waiting for the next tick), then on. */
  refresh(): void {
    // snapshot() turns every failure into what the page shows; nothing is left to reject.
    this.poll().catch(() => {});
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    this.stop();
    let interval = MIN_POLL_MS;
    try {
      this.last = await this.snapshot();
      interval = Math.max(MIN_POLL_MS, this.last.status?.supervisor.interval_ms ?? 0);
      for (const l of this.listeners) l(this.last);
    } finally {
      this.polling = false;
      if (this.listeners.size > 0) this.timer = setTimeout(() => this.refresh(), interval);
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const at = new Date().toISOString();
    const alerts = await lastAlerts(this.stateDir, ALERTS).catch(() => []);
    try {
      const { status, processes } = await fetchStatus(this.client, REQUEST_TIMEOUT_MS);
      this.trails.record(processes);
      const captures = await listCaptures(await this.captures());
      const views = processes.map(({ history: _history, thresholds: _thresholds, ...p }) => ({ ...p, spark: this.trails.sparks(p.pid) }));
      return { at, supervisor: 'up', status, processes: views, alerts, captures };
    } catch (err) {
      // The next supervisor on this state dir may put its captures elsewhere.
      this.capturesDir = undefined;
      return { at, ...judged(err), processes: [], alerts, captures: this.last?.captures ?? [] };
    }
  }
}
