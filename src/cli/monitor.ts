// `monitor --pid N`, and `capture --pid N` / `gc --pid N` when no supervisor runs: any node process the user
// owns, over its inspector port (src/supervisor/inspector-port/inspector-port.ts, which documents what the target
// prints on its stderr for it). The session is always detached and the inspector we opened closed again.
import { statSync } from 'node:fs';
import { ProbeError, TimeoutError, errorMessage } from '../common/errors.js';
import { tenthsMb } from '../common/units.js';
import { resolveConfig } from '../config/config.js';
import { DEFAULT_SAMPLING_INTERVAL } from '../supervisor/probe-link/probe-sessions.js';
import { CapturesFolder } from '../supervisor/journal/captures.js';
import { attachInspector, saveCapture, type InspectorFate, type InspectorHandle, type SessionEnd } from '../supervisor/inspector-port/inspector-port.js';
import { pageSize, readArgv, readStat } from '../platform/index.js';
import { leaking, type TrendRule } from '../supervisor/watch/policy.js';
import { roleOf } from '../supervisor/watch/sampler.js';
import { heapTrend, type Point, type Trend } from '../supervisor/watch/trend.js';
import { notice, out, printJson } from './output.js';
import { progressLine } from './progress.js';
import { bytesMb, formatDuration, formatTrend } from './view.js';

export interface MonitorOptions {
  pid: number;
  durationMs: number;
  intervalMs: number;
  json: boolean;
  captureOnGrowth: boolean;
  capturesDir: string;
  /** Default: the configuration as the environment sets it (CFN_SUPERVISE_TREND_*), else the defaults. */
  trend?: TrendRule;
}

export type Verdict = 'stable' | 'growing' | 'leaking' | 'unknown';

const OPEN_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 5000;
const DEFAULT_PROFILE_SECONDS = 10;
const EXIT_INTERRUPTED = 130;

const trendView = (t: Trend) => ({
  mb_per_min: Math.round(t.mbPerMin * 10) / 10,
  ...(t.oomInMin === undefined ? {} : { oom_in_min: Math.round(t.oomInMin) }),
  confidence: Math.round(t.confidence * 100) / 100,
});

/** The rate, the forecast and how far to trust them (the fit, times how much of the window was seen). */
const trendText = (t: Trend | undefined) => (t ? `${formatTrend(trendView(t))} (confidence ${t.confidence.toFixed(2)})` : '-');

/**
 * leaking: the supervisor would raise its trend alert; growing: the floor rises at least at half that rate (where
 * the supervisor's alert, once raised, clears) without meeting the rest; unknown: too few heap readings to fit.
 */
export function verdictOf(trend: Trend | undefined, rule: TrendRule): Verdict {
  if (!trend) return 'unknown';
  if (leaking(trend, rule)) return 'leaking';
  return trend.mbPerMin >= rule.trendMinMbPerMin / 2 ? 'growing' : 'stable';
}

interface Span {
  start?: number;
  peak?: number;
  end?: number;
}

function extend(span: Span, value: number | undefined): void {
  if (value === undefined) return;
  span.start ??= value;
  span.peak = Math.max(span.peak ?? value, value);
  span.end = value;
}

const spanMb = (s: Span) => ({ start: s.start && tenthsMb(s.start), peak: s.peak && tenthsMb(s.peak), end: s.end && tenthsMb(s.end) });
const spanText = (s: Span) => (s.start === undefined ? 'no reading' : `start ${bytesMb(s.start)}, peak ${bytesMb(s.peak!)}, end ${bytesMb(s.end!)}`);

function rssOf(pid: number): number | undefined {
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? stat.rssPages * pageSize() : undefined;
}

function roleOfPid(pid: number): string {
  return roleOf(readArgv(pid), readStat(pid)?.comm ?? '?', false);
}

/** Detaches and says so when the inspector we opened could not be closed (the process is busy). */
async function detach(handle: InspectorHandle, quiet: boolean): Promise<InspectorFate> {
  const fate = await handle.close();
  if (fate === 'still-open' && !quiet) {
    notice(`pid ${handle.pid}: its inspector still listens on ${handle.host}:${handle.port} (the process is busy); it closes itself once the process runs again`);
  }
  return fate;
}

interface Summary {
  pid: number;
  role: string;
  ended: 'duration' | 'interrupted' | 'exited' | 'inspector-closed';
  durationS: number;
  intervalMs: number;
  windowMs: number;
  samples: number;
  missed: number;
  rss: Span;
  heap: Span;
  heapLimit: number | undefined;
  trend: Trend | undefined;
  verdict: Verdict;
  capture: string | undefined;
  fate: InspectorFate | undefined;
}

function printSummary(s: Summary, json: boolean): void {
  if (json) {
    printJson({
      pid: s.pid,
      role: s.role,
      ended: s.ended,
      duration_s: Math.round(s.durationS * 10) / 10,
      interval_ms: s.intervalMs,
      samples: s.samples,
      missed_heap_reads: s.missed,
      rss_mb: spanMb(s.rss),
      heap_mb: { ...spanMb(s.heap), limit: s.heapLimit && tenthsMb(s.heapLimit) },
      trend: s.trend ? trendView(s.trend) : null,
      verdict: s.verdict,
      ...(s.capture ? { capture: s.capture } : {}),
      inspector: s.fate,
    });
    return;
  }
  if (s.ended === 'exited') notice(`pid ${s.pid} exited after ${formatDuration(s.durationS)}`);
  if (s.ended === 'inspector-closed') notice(`pid ${s.pid}: its inspector closed during monitoring`);
  const limit = s.heapLimit === undefined ? '' : `, limit ${bytesMb(s.heapLimit)}`;
  out(
    [
      `pid ${s.pid} (${s.role}): ${s.samples} sample${s.samples === 1 ? '' : 's'} over ${formatDuration(s.durationS)}${s.missed > 0 ? `, ${s.missed} without a heap reading` : ''}`,
      `rss      ${spanText(s.rss)}`,
      `heap     ${spanText(s.heap)}${limit}`,
      `trend    ${s.trend ? `${trendText(s.trend)}, fitted over a ${formatDuration(s.windowMs / 1000)} window` : 'too few heap readings'}`,
      `verdict  ${s.verdict}`,
      ...(s.capture ? [`capture  ${s.capture}`] : []),
    ].join('\n'),
  );
}

/** Resolves after `ms`, or at once when `wake` is called. */
function pauser(): { pause(ms: number): Promise<void>; wake(): void } {
  let wakeUp: (() => void) | undefined;
  return {
    pause: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    wake: () => wakeUp?.(),
  };
}

export async function monitorCommand(opts: MonitorOptions): Promise<number> {
  const rule = opts.trend ?? resolveConfig({ flags: {}, env: process.env, cwd: process.cwd() }).config;
  const windowMs = Math.min(rule.trendWindowMs, opts.durationMs);
  const live = !opts.json && process.stdout.isTTY === true;
  const timer = pauser();
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    timer.wake();
  };
  // Before attaching: a Ctrl-C during the attach must still detach.
  process.on('SIGINT', onInterrupt);
  const role = roleOfPid(opts.pid);
  const rss: Span = {};
  const heap: Span = {};
  const points: Point[] = [];
  let samples = 0;
  let missed = 0;
  let trend: Trend | undefined;
  let capture: string | undefined;
  let ended: Summary['ended'] = 'duration';
  /** What the heap dies at: the old-space limit when one was set, else V8's whole heap limit. */
  let heapLimit: number | undefined;
  let handle: InspectorHandle | undefined;
  let fate: InspectorFate | undefined;
  const started = Date.now();
  try {
    handle = await attachInspector(opts.pid, { callTimeoutMs: Math.min(CALL_TIMEOUT_MS, Math.max(1000, opts.intervalMs)), openTimeoutMs: OPEN_TIMEOUT_MS });
    const h = handle;
    const session: { end?: SessionEnd } = {};
    h.ended.then(
      (end) => {
        session.end = end;
        timer.wake();
      },
      () => timer.wake(),
    );
    const exited = () => session.end === 'exited' || rssOf(opts.pid) === undefined;
    if (opts.captureOnGrowth) await h.startSampling(DEFAULT_SAMPLING_INTERVAL);
    const begin = Date.now();
    for (let i = 0; !interrupted; i++) {
      const now = Date.now();
      const rssBytes = rssOf(opts.pid);
      if (rssBytes === undefined || exited()) {
        ended = 'exited';
        break;
      }
      let heapBytes: number | undefined;
      try {
        const usage = await h.heapUsage();
        heapBytes = usage.used;
        heapLimit = usage.oldSpaceLimit ?? usage.limit;
      } catch (err) {
        if (!(err instanceof TimeoutError)) {
          if (!(err instanceof ProbeError)) throw err;
          ended = exited() ? 'exited' : 'inspector-closed';
          break;
        }
        missed += 1;
      }
      samples += 1;
      extend(rss, rssBytes);
      extend(heap, heapBytes);
      if (heapBytes !== undefined) points.push({ t: now, v: heapBytes });
      if (heapLimit !== undefined) trend = heapTrend(points, heapLimit, { windowMs });
      if (opts.captureOnGrowth && capture === undefined && trend && leaking(trend, rule)) {
        try {
          capture = (await saveCapture(h, new CapturesFolder(opts.capturesDir), 'monitor-growth', 'heapprofile')).file;
          if (live && !opts.json) process.stdout.write('\r\x1b[K');
          if (!opts.json) notice(`heap grows ${formatTrend(trendView(trend))}: profile saved to ${capture}`);
        } catch (err) {
          capture = '';
          if (!opts.json) notice(`pid ${opts.pid}: the growth profile could not be saved: ${errorMessage(err)}`);
        }
      }
      if (!opts.json) {
        const line = `${formatDuration((now - begin) / 1000).padStart(6)}  rss ${bytesMb(rssBytes)}  heap ${heapBytes === undefined ? 'no answer' : bytesMb(heapBytes)}  trend ${trendText(trend)}`;
        process.stdout.write(live ? `\r\x1b[K${line}` : `${line}\n`);
      }
      const next = begin + (i + 1) * opts.intervalMs;
      if (next - begin > opts.durationMs) break;
      await timer.pause(Math.max(0, next - Date.now()));
    }
    if (interrupted) ended = 'interrupted';
    if (opts.captureOnGrowth && ended !== 'exited') await h.stopSampling().catch(() => undefined);
  } finally {
    process.off('SIGINT', onInterrupt);
    if (live && samples > 0) process.stdout.write('\n');
    if (handle) fate = await detach(handle, opts.json);
  }
  printSummary(
    { pid: opts.pid, role, ended, durationS: (Date.now() - started) / 1000, intervalMs: opts.intervalMs, windowMs, samples, missed, rss, heap, heapLimit, trend, verdict: verdictOf(trend, rule), capture, fate },
    opts.json,
  );
  return interrupted ? EXIT_INTERRUPTED : 0;
}

export interface CaptureViaInspectorOptions {
  pid: number;
  kind: 'profile' | 'snapshot';
  /** How long a profile samples (default 10 s); not for snapshots. */
  seconds?: number;
  capturesDir: string;
  json: boolean;
}

/** `capture --pid N` without a supervisor: a sampling profile over `seconds`, or a snapshot streamed to disk. */
export async function captureViaInspector(opts: CaptureViaInspectorOptions): Promise<number> {
  const handle = await attachInspector(opts.pid, { callTimeoutMs: CALL_TIMEOUT_MS, openTimeoutMs: OPEN_TIMEOUT_MS });
  const bar = progressLine();
  let file: string;
  try {
    if (opts.kind === 'snapshot') {
      file = (await saveCapture(handle, new CapturesFolder(opts.capturesDir), 'manual', 'heapsnapshot', (done) => bar.update(`writing ${bytesMb(done)}`))).file;
    } else {
      const seconds = opts.seconds ?? DEFAULT_PROFILE_SECONDS;
      const timer = pauser();
      let gone = false;
      const ended = () => {
        gone = true;
        timer.wake();
      };
      handle.ended.then(ended, ended);
      await handle.startSampling(DEFAULT_SAMPLING_INTERVAL);
      for (let s = 0; s < seconds && !gone; s++) {
        bar.update(`sampling ${s}/${seconds} s`, s / seconds);
        await timer.pause(1000);
      }
      if (gone) throw new ProbeError(opts.pid, 'the process exited while sampling');
      file = (await saveCapture(handle, new CapturesFolder(opts.capturesDir), 'manual', 'heapprofile')).file;
      await handle.stopSampling();
    }
  } finally {
    bar.end();
    await detach(handle, opts.json);
  }
  if (opts.json) printJson({ file, pid: opts.pid, role: roleOfPid(opts.pid), kind: opts.kind === 'snapshot' ? 'heapsnapshot' : 'heapprofile', bytes: statSync(file).size });
  else out(file);
  return 0;
}

/** `gc --pid N` without a supervisor: a full collection, with the heap before and after. */
export async function gcViaInspector(opts: { pid: number; json: boolean }): Promise<number> {
  const role = roleOfPid(opts.pid);
  const handle = await attachInspector(opts.pid, { callTimeoutMs: CALL_TIMEOUT_MS, openTimeoutMs: OPEN_TIMEOUT_MS });
  let r: { beforeBytes: number; afterBytes: number };
  try {
    r = await handle.collectGarbage();
  } finally {
    await detach(handle, opts.json);
  }
  if (opts.json) printJson({ results: [{ pid: opts.pid, role, before_bytes: r.beforeBytes, after_bytes: r.afterBytes }] });
  else out(`${opts.pid} (${role}): heap ${bytesMb(r.beforeBytes)} -> ${bytesMb(r.afterBytes)}, freed ${bytesMb(Math.max(0, r.beforeBytes - r.afterBytes))}`);
  return 0;
}
