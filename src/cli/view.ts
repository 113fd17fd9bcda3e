// Formatting shared by `status` and `top`: one process table, one header, the same units everywhere.
import type { ProcessView, StatusView } from '../supervisor/control/protocol.js';
import type { ControlClient } from './client.js';
import { MB } from '../common/units.js';

const mb = (value: number | undefined) => (value === undefined ? '-' : value >= 10 ? `${Math.round(value)} MB` : `${value.toFixed(1)} MB`);
export const bytesMb = (bytes: number) => mb(bytes / MB);

export function formatTrend(trend: ProcessView['trend']): string {
  if (!trend) return '-';
  const rate = `${trend.mb_per_min >= 0 ? '+' : ''}${trend.mb_per_min.toFixed(1)} MB/min`;
  return trend.oom_in_min === undefined ? rate : `${rate}, OOM in ~${Math.max(0, Math.round(trend.oom_in_min))} min`;
}

export function formatHeap(p: Pick<ProcessView, 'heap_used_mb' | 'heap_limit_mb'>): string {
  if (p.heap_used_mb === undefined) return '-';
  return p.heap_limit_mb === undefined ? mb(p.heap_used_mb) : `${mb(p.heap_used_mb)} / ${mb(p.heap_limit_mb)}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Left-aligned text, right-aligned numbers; `extra` adds columns such as top's sparkline. */
export function processTable(processes: readonly ProcessView[], extra?: { header: string; cell: (p: ProcessView) => string }): string[] {
  const headers = ['PID', 'ROLE', 'SEEN BY', 'RSS', 'ANON', 'HEAP USED / LIMIT', 'EXTERNAL', 'LEVEL', 'TREND', ...(extra ? [extra.header] : [])];
  const right = [true, false, false, true, true, true, true, false, false, false];
  // By pid: rows keep their place from one refresh of `top` to the next.
  const rows = [...processes].sort((a, b) => a.pid - b.pid).flatMap((p) => [
    [
      String(p.pid),
      p.role,
      p.instrumented_why ? `${p.instrumented ?? '-'} (${p.instrumented_why})` : (p.instrumented ?? '-'),
      mb(p.rss_mb),
      mb(p.rss_anon_mb),
      formatHeap(p),
      // Buffers and ArrayBuffers: what grows when RSS does and the heap does not.
      mb(p.external_mb),
      p.level,
      formatTrend(p.trend),
      ...(extra ? [extra.cell(p)] : []),
    ],
    // Each worker thread is an isolate with its own heap and limit, under the process whose RSS it shares.
    ...(p.workers ?? []).map((w) => ['', `└ worker thread ${w.thread}`, 'probe', '', '', formatHeap(w), '', w.level, formatTrend(w.trend), ...(extra ? [''] : [])]),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const devtools = processes.filter((p) => p.devtools_url).map((p) => `devtools ${p.pid}: ${p.devtools_url}`);
  return [line(headers), ...rows.map(line), ...(devtools.length ? ['', ...devtools] : [])];
}

export function statusHeader(status: StatusView): string[] {
  const { supervisor: s, agent: a, tree: t } = status;
  const wait = a.restart_in_s === undefined ? '' : `restarting in ${formatDuration(a.restart_in_s)}`;
  const agent = [a.phase, wait, a.run_id ? `run ${a.run_id}` : '', a.pid ? `pid ${a.pid}` : '', `${a.restarts} restart${a.restarts === 1 ? '' : 's'}`];
  const heap = `${t.heap_used_mb === undefined ? '' : `, heap ${mb(t.heap_used_mb)}`}${t.external_mb === undefined ? '' : `, external ${mb(t.external_mb)}`}`;
  return [
    `supervisor  pid ${s.pid}, up ${formatDuration(s.uptime_s)}, ${s.state_dir}`,
    `agent       ${agent.filter(Boolean).join(', ')}`,
    `tree        ${t.processes} process${t.processes === 1 ? '' : 'es'}, RSS ${mb(t.rss_mb)}${heap}, level ${t.level}`,
    ...(s.watch_failing ? [`watch       FAILING: ${s.watch_failing}`] : []),
  ];
}

export async function fetchStatus(client: ControlClient, timeoutMs?: number): Promise<{ status: StatusView; processes: ProcessView[] }> {
  const opts = timeoutMs === undefined ? {} : { timeoutMs };
  const { processes, ...status } = await client.request<StatusView & { processes?: ProcessView[] }>('GET', '/status?processes=1', opts);
  // A supervisor started before the query existed answers with the status alone.
  return { status, processes: processes ?? (await client.request<{ processes: ProcessView[] }>('GET', '/processes', opts)).processes };
}

