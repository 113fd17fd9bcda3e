// The control subcommands that act on processes: capture, gc, cleanup and monitor. Each is one request to the
// running supervisor plus formatting; the supervisor does the work, so the CLI and the policy act the same way.
// Without a supervisor, capture, gc and monitor reach a named process over its inspector port.
import { NoSupervisorError, UsageError } from '../common/errors.js';
import type { Config } from '../config/config.js';
import { parseMillis } from '../common/units.js';
import { MAX_CAPTURE_SECONDS, type CaptureProgress, type CaptureResult, type CleanupResult, type GcResult } from '../supervisor/control/protocol.js';
import { ControlClient } from './client.js';
import { notice, out, printJson } from './output.js';
import { progressLine } from './progress.js';
import { bytesMb } from './view.js';

interface Flags {
  json?: boolean;
  pid?: string;
  thread?: string;
  snapshot?: boolean;
  seconds?: string;
  duration?: string;
  interval?: string;
  captureOnGrowth?: boolean;
}

function parsePid(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < 1) throw new UsageError(`--pid: expected a process id, got '${raw}'`);
  return Number(raw);
}

function parseThread(raw: string | undefined, pid: number | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < 1) throw new UsageError(`--thread: expected a worker's threadId, got '${raw}'`);
  if (pid === undefined) throw new UsageError('--thread needs --pid: the process the worker thread belongs to');
  return Number(raw);
}

function parseCaptureSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n <= 0 || n > MAX_CAPTURE_SECONDS) {
    throw new UsageError(`--seconds: expected a whole number of seconds from 1 to ${MAX_CAPTURE_SECONDS}, got '${raw}'`);
  }
  return n;
}

/**
 * Runs `supervised` against the supervisor of the state dir; when none answers and a pid was named, runs
 * `unsupervised` instead: the inspector-port path reaches any node process the user owns.
 */
async function orAttach(pid: number | undefined, supervised: () => Promise<number>, unsupervised: (pid: number) => Promise<number>): Promise<number> {
  try {
    return await supervised();
  } catch (err) {
    if (!(err instanceof NoSupervisorError) || pid === undefined) throw err;
    return unsupervised(pid);
  }
}

const DEFAULT_ATTACH_SECONDS = 10;

export async function capture(config: Config, flags: Flags): Promise<number> {
  const pid = parsePid(flags.pid);
  const thread = parseThread(flags.thread, pid);
  const seconds = parseCaptureSeconds(flags.seconds);
  if (flags.snapshot && seconds !== undefined) throw new UsageError('--seconds applies to profiles, not to --snapshot');
  return orAttach(
    pid,
    () => captureFromSupervisor(config.stateDir, pid, thread, seconds, flags),
    async (target) => {
      if (thread !== undefined) throw new UsageError('--thread needs a running supervisor: a worker thread is reached through its probe');
      return (await import('./monitor.js')).captureViaInspector({
        pid: target,
        kind: flags.snapshot ? 'snapshot' : 'profile',
        seconds: seconds ?? DEFAULT_ATTACH_SECONDS,
        capturesDir: config.capturesDir,
        json: flags.json === true,
      });
    },
  );
}

async function captureFromSupervisor(stateDir: string, pid: number | undefined, thread: number | undefined, seconds: number | undefined, flags: Flags): Promise<number> {
  const bar = progressLine();
  let result: CaptureResult;
  try {
    result = await new ControlClient(stateDir).request<CaptureResult>('POST', '/capture', {
      body: { kind: flags.snapshot ? 'snapshot' : 'profile', pid, thread, seconds },
      onLine: (line) => {
        const p = line.progress as CaptureProgress | undefined;
        if (!p) return;
        const amount = p.phase === 'writing' ? bytesMb(p.done) : p.total ? `${p.done}/${p.total} s` : `${p.done}`;
        bar.update(`${p.phase} ${amount}`, p.total ? p.done / p.total : undefined);
      },
    });
  } finally {
    bar.end();
  }
  if (flags.json) printJson(result);
  else {
    if (pid === undefined) notice(`captured pid ${result.pid}${result.role ? ` (${result.role})` : ''}; name one with --pid`);
    out(result.file);
  }
  return 0;
}

export async function gc(config: Config, flags: Flags): Promise<number> {
  const pid = parsePid(flags.pid);
  return orAttach(
    pid,
    () => gcFromSupervisor(config.stateDir, pid, flags),
    async (target) => (await import('./monitor.js')).gcViaInspector({ pid: target, json: flags.json === true }),
  );
}

async function gcFromSupervisor(stateDir: string, pid: number | undefined, flags: Flags): Promise<number> {
  const result = await new ControlClient(stateDir).request<GcResult>('POST', '/gc', { body: { pid } });
  if (flags.json) printJson(result);
  else if (result.results.length === 0) out('no node process to collect');
  for (const r of flags.json ? [] : result.results) {
    const who = r.role ? `${r.pid} (${r.role})` : String(r.pid);
    out(`${who}: heap ${bytesMb(r.before_bytes)} -> ${bytesMb(r.after_bytes)}, freed ${bytesMb(Math.max(0, r.before_bytes - r.after_bytes))}`);
  }
  return 0;
}

/** With a supervisor: its cleanup. Without one: what a supervisor would tidy at start, done here (`config`). */
export async function cleanup(config: Config, flags: Flags): Promise<number> {
  let result: { summary: string };
  try {
    result = await new ControlClient(config.stateDir).request<CleanupResult>('POST', '/cleanup', { body: {} });
  } catch (err) {
    if (!(err instanceof NoSupervisorError)) throw err;
    const { cleanupStateDir } = await import('../supervisor/lifecycle/offline-cleanup.js');
    result = await cleanupStateDir(config);
  }
  if (flags.json) printJson(result);
  else out(result.summary);
  return 0;
}

export async function monitor(config: Config, flags: Flags): Promise<number> {
  const pid = parsePid(flags.pid)!;
  const ms = (raw: string | undefined, flag: string, fallback: number) => {
    if (raw === undefined) return fallback;
    try {
      const value = parseMillis(raw);
      if (value >= 100) return value;
    } catch {
      // Reported below, with the flag's name.
    }
    throw new UsageError(`${flag}: expected a duration of at least 100 ms like 1000, 30s or 5m, got '${raw}'`);
  };
  return (await import('./monitor.js')).monitorCommand({
    pid,
    durationMs: ms(flags.duration, '--duration', 300_000),
    intervalMs: ms(flags.interval, '--interval', 1000),
    json: flags.json === true,
    captureOnGrowth: flags.captureOnGrowth === true,
    capturesDir: config.capturesDir,
    trend: config,
  });
}
