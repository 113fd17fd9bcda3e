// The journal lines a report reads, as far as it needs them: each validator returns a typed record or
// undefined for a line that is not one (counted and skipped by the reader, never fatal).
import type { ProfileSummary } from '../analysis/profile.js';

export interface RunLine {
  readonly t: number;
  readonly runId: string;
  readonly durationSeconds: number;
  readonly peakMb: number;
  readonly reason: string;
  readonly restarts: number;
}

export interface AlertLine {
  readonly t: number;
  readonly level: string;
  readonly metric: string;
  /** For `capture` lines: the capture analysed and its top sites as the alert carried them. */
  readonly file?: string;
  readonly topSites?: readonly { site: string; share: number }[];
}

export interface ProcessLine {
  readonly t: number;
  readonly runId: string;
  readonly role: string;
  readonly peakRssMb: number;
  readonly peakHeapMb?: number;
  readonly heapLimitMb?: number;
  /** What memory ended it, if it did: oom, limit, oom-kill. */
  readonly cause?: string;
}

/** A capture summary (`<capture>.summary.json`) and when its capture was taken. */
export interface CaptureSummary {
  readonly t: number;
  readonly summary: ProfileSummary;
}

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function time(v: unknown): number | undefined {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

export function runLine(raw: unknown): RunLine | undefined {
  if (!isObject(raw) || !isObject(raw.exit)) return undefined;
  const t = time(raw.ts);
  const runId = str(raw.run_id);
  const durationSeconds = num(raw.duration_seconds);
  const peakMb = num(raw.peak_mb);
  const reason = str(raw.exit.reason);
  if (t === undefined || runId === undefined || durationSeconds === undefined || peakMb === undefined || reason === undefined) return undefined;
  return { t, runId, durationSeconds, peakMb, reason, restarts: num(raw.restarts) ?? 0 };
}

function topSitesOf(v: unknown): AlertLine['topSites'] {
  if (!Array.isArray(v)) return undefined;
  return v.flatMap((s) => (isObject(s) && typeof s.site === 'string' ? [{ site: s.site, share: num(s.share) ?? 0 }] : []));
}

export function alertLine(raw: unknown): AlertLine | undefined {
  if (!isObject(raw)) return undefined;
  const t = time(raw.ts);
  const level = str(raw.level);
  const metric = str(raw.metric);
  if (t === undefined || level === undefined || metric === undefined) return undefined;
  const file = str(raw.file);
  const topSites = topSitesOf(raw.top_sites);
  return { t, level, metric, ...(file ? { file } : {}), ...(topSites ? { topSites } : {}) };
}

export function processLine(raw: unknown): ProcessLine | undefined {
  if (!isObject(raw)) return undefined;
  const t = time(raw.ended_at) ?? time(raw.ts);
  const runId = str(raw.run_id);
  const role = str(raw.role);
  const peakRssMb = num(raw.peak_rss_mb);
  if (t === undefined || runId === undefined || !role || peakRssMb === undefined) return undefined;
  const peakHeapMb = num(raw.peak_heap_mb);
  const heapLimitMb = num(raw.heap_limit_mb);
  const cause = str(raw.cause);
  return {
    ...(cause ? { cause } : {}),
    t,
    runId,
    role,
    peakRssMb,
    ...(peakHeapMb !== undefined ? { peakHeapMb } : {}),
    ...(heapLimitMb !== undefined ? { heapLimitMb } : {}),
  };
}

/** Only profile summaries name allocation sites; anything else in a summary file is not one. */
export function profileSummary(raw: unknown): ProfileSummary | undefined {
  if (!isObject(raw) || raw.kind !== 'heapprofile' || !Array.isArray(raw.sites)) return undefined;
  const sitesOk = raw.sites.every(
    (s) => isObject(s) && typeof s.functionName === 'string' && typeof s.url === 'string' && [s.line, s.column, s.share].every((n) => num(n) !== undefined),
  );
  return sitesOk ? (raw as unknown as ProfileSummary) : undefined;
}
