// The control protocol: the routes' request and reply shapes, limits and where the socket lives. Shared by the
// server, the CLI and the tests' fakes, and light enough for the CLI to import without loading the server.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { socketFits } from '../../common/statedir.js';
import type { RoleKey } from '../../config/config.js';
import type { Level, Thresholds } from '../watch/policy.js';

export type { Level };

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_CAPTURE_SECONDS = 600;
export const SOCKET_NAME = 'control.sock';
export const NDJSON = 'application/x-ndjson';

export interface ControlPaths {
  /** Where the socket lives: in the state dir, or in a private runtime folder when that path is too long. */
  socket: string;
  /** Names the socket's real place when it could not live in the state dir. */
  pointer: string;
  token: string;
}

export function controlPaths(stateDir: string): ControlPaths {
  const root = path.resolve(stateDir);
  const pointer = path.join(root, 'control.sock.path');
  const direct = path.join(root, SOCKET_NAME);
  return { socket: socketFits(direct) ? direct : readPointer(pointer), pointer, token: path.join(root, 'control.token') };
}

function readPointer(pointer: string): string {
  try {
    return readFileSync(pointer, 'utf8').trim();
  } catch {
    return pointer;
  }
}


export interface ProcessView {
  pid: number;
  ppid: number;
  /** Stable across restarts and few in number: 'agent', 'node:<script basename>' or the comm name. */
  role: string;
  argv?: string[];
  rss_mb: number;
  cpu_percent?: number;
  heap_used_mb?: number;
  heap_limit_mb?: number;
  /** V8's heap as allocated; RSS minus it is what the process holds outside the heap. */
  heap_total_mb?: number;
  /** Buffers and ArrayBuffers outside the heap (process.memoryUsage()'s external and arrayBuffers); from the probe only. */
  external_mb?: number;
  array_buffers_mb?: number;
  /** What RSS is made of: anonymous, file-backed, shared (/proc/<pid>/status). */
  rss_anon_mb?: number;
  rss_file_mb?: number;
  rss_shmem_mb?: number;
  /** Active handles by type (TCPSocketWrap, Timeout, ...), from the probe. */
  handles?: Record<string, number>;
  fds?: number;
  sockets?: number;
  threads?: number;
  level: Level;
  trend?: { mb_per_min: number; oom_in_min?: number; confidence: number };
  /** Oldest first, at most a few dozen samples: what `top` draws as a sparkline. */
  history: { rss_mb: number[] };
  /** The thresholds that hold for this process: the global ones, or its role's (config file `roles:`). */
  thresholds?: Pick<Thresholds, RoleKey>;
  /** probe: its preloaded probe; bun: a Bun process, through its inspector link; inspector: a node process without
   * a probe, reached through its inspector port on demand; rss-only: /proc alone (nothing to attach to). */
  instrumented?: 'probe' | 'bun' | 'inspector' | 'rss-only';
  /** Why a node process is seen by RSS alone, where that is known: 'permission model' (node's permission model
   * lets node read no probe it was not allowed and opens no inspector). */
  instrumented_why?: string;
  /** With --inspect (or an app's own inspector): where DevTools attaches. */
  devtools_url?: string;
  /** Its worker threads with a probe: each an isolate with its own heap, limit and level. */
  workers?: WorkerView[];
}

export interface WorkerView {
  thread: number;
  heap_used_mb?: number;
  heap_limit_mb?: number;
  level: Level;
  trend?: ProcessView['trend'];
}

export type Instrumented = Pick<ProcessView, 'instrumented' | 'instrumented_why'>;

export interface StatusView {
  supervisor: {
    pid: number;
    version: string;
    started_at: string;
    uptime_s: number;
    state_dir: string;
    interval_ms: number;
    /** Present while the watch loop fails (lifecycle/tick-health.ts): why. */
    watch_failing?: string;
  };
  /** pid, run_id and started_at while an agent runs; restart_in_s in a restart's backoff. */
  agent: { phase: string; run_id?: string; pid?: number; started_at?: string; restarts: number; restart_in_s?: number };
  tree: { processes: number; rss_mb: number; heap_used_mb?: number; external_mb?: number; level: Level };
  /** Alerts raised since the supervisor started, by level. */
  levels: Partial<Record<Level, number>>;
  thresholds: Thresholds;
}

export type CaptureKind = 'profile' | 'snapshot';
export interface CaptureRequest {
  pid?: number;
  /** A worker thread of `pid` (its threadId): that isolate is captured, not the main thread. */
  thread?: number;
  kind: CaptureKind;
  seconds?: number;
}
export interface CaptureProgress {
  phase: string;
  done: number;
  total?: number;
}
export interface CaptureResult {
  file: string;
  pid: number;
  thread?: number;
  /** Which process that is, so a capture without --pid says what it captured. */
  role?: string;
  kind: CaptureKind;
  bytes?: number;
}
export interface GcResult {
  results: { pid: number; role?: string; before_bytes: number; after_bytes: number }[];
}
export interface CleanupResult {
  /** One line for a person; the other fields are for scripts. */
  summary: string;
  [key: string]: unknown;
}

/**
 * What the supervisor answers with. Throw a CfnError for anything but success (common/errors.ts): Refused (404
 * unknown pid, 409 cooling down), UsageError (400), TimeoutError (504); anything else is a 500.
 */
export interface ControlHandlers {
  status(): StatusView;
  processes(): ProcessView[];
  /** `cancelled` is aborted when the client goes away before the result: a sampling window then ends unwritten. */
  capture(req: CaptureRequest, progress: (p: CaptureProgress) => void, cancelled?: AbortSignal): Promise<CaptureResult>;
  gc(req: { pid?: number }): Promise<GcResult>;
  cleanup(): Promise<CleanupResult>;
  restart(): Promise<{ run_id?: string }>;
  getConfig(): Record<string, unknown>;
  /** Validates every value before applying any; returns the whole effective config. */
  patchConfig(patch: Record<string, unknown>): Record<string, unknown>;
  /** GET /healthz (liveness: the supervisor itself works): 200 when ok, else 503; the rest is detail. Default ok. */
  health?(): { ok: boolean; [detail: string]: unknown };
  /** GET /readyz (readiness: the agent runs and is watched): 200 when ok, else 503. Default ok. */
  ready?(): { ok: boolean; [detail: string]: unknown };
}
