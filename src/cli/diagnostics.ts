// `cfn-supervise diagnostics [--json]`: the one-page health check of a running supervisor. The machine's
// memory, each process's level and trend, the last alerts, the last capture's top allocation sites, and what
// to do next, derived from all of it. Reads the state dir's journals from their end, never whole.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { topSites, topSitesText } from '../analysis/index.js';
import type { ProfileSummary } from '../analysis/profile.js';
import { boundedMemory, memoryBound, type SystemMemory } from '../platform/sysmem.js';
import { journalFiles } from '../report/journals.js';
import { profileSummary } from '../report/records.js';
import type { ProcessView, StatusView } from '../supervisor/control/protocol.js';
import { mostlyOffHeap, rank } from '../supervisor/watch/policy.js';
import { MB } from '../common/units.js';
import { ControlClient } from './client.js';
import { out } from './output.js';
import { fetchStatus, formatHeap, formatTrend, processTable, statusHeader } from './view.js';

const ALERTS_SHOWN = 10;
const TOP_SITES = 5;
/** Reading backwards stops here: a journal line is small, so this is far more than ten of them. */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;
const BLOCK_BYTES = 64 * 1024;
const MAX_SUMMARY_BYTES = 16 * 1024 * 1024;
const PROFILE_SUMMARY = /^\d{4}-\d{2}-\d{2}T.*\.heapprofile\.summary\.json$/;
/** Below this share of the machine's memory still available, the machine itself is the problem. */
const LOW_AVAILABLE = 0.1;

export interface AlertEntry {
  ts: string;
  level: string;
  metric?: string;
  pid?: number;
  role?: string;
  message: string;
}

export interface LastCapture {
  summary_file: string;
  summary: ProfileSummary;
}

export interface Diagnostics {
  generated_at: string;
  /** Within the cgroup's limit where that is below the machine's (`memory_limit` names it). */
  system_memory: SystemMemory;
  memory_limit?: string;
  status: StatusView;
  processes: ProcessView[];
  alerts: AlertEntry[];
  capture?: LastCapture;
  next: string[];
}

/** The last `n` non-blank lines of `file`, read backwards block by block (at most MAX_TAIL_BYTES of it). */
async function tailFile(file: string, n: number): Promise<string[]> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const lines: string[] = [];
    let pos = size;
    let rest = Buffer.alloc(0);
    while (pos > 0 && lines.length < n && size - pos < MAX_TAIL_BYTES) {
      const len = Math.min(BLOCK_BYTES, pos);
      pos -= len;
      const block = Buffer.alloc(len);
      await handle.read(block, 0, len, pos);
      const chunk = Buffer.concat([block, rest]);
      let end = chunk.length;
      for (let i = chunk.length - 1; i >= 0 && lines.length < n; i--) {
        if (chunk[i] !== 0x0a) continue;
        const line = chunk.subarray(i + 1, end).toString('utf8');
        if (line.trim()) lines.unshift(line);
        end = i;
      }
      rest = chunk.subarray(0, end);
    }
    if (pos === 0 && lines.length < n && rest.toString('utf8').trim()) lines.unshift(rest.toString('utf8'));
    return lines;
  } finally {
    await handle.close();
  }
}

const isGzip = async (file: string) => {
  const handle = await fs.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
};

function alertEntry(line: string): AlertEntry | undefined {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // A line torn by a crash mid-write.
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.ts !== 'string' || typeof raw.level !== 'string' || typeof raw.message !== 'string') return undefined;
  return {
    ts: raw.ts,
    level: raw.level,
    message: raw.message,
    ...(typeof raw.metric === 'string' ? { metric: raw.metric } : {}),
    ...(typeof raw.pid === 'number' ? { pid: raw.pid } : {}),
    ...(typeof raw.role === 'string' ? { role: raw.role } : {}),
  };
}

/** The newest alerts, oldest first: from the live alerts.jsonl, then the rotated files before it as needed. */
export async function lastAlerts(stateDir: string, n = ALERTS_SHOWN): Promise<AlertEntry[]> {
  const entries: AlertEntry[] = [];
  for (const file of (await journalFiles(stateDir, 'alerts.jsonl')).reverse()) {
    if (entries.length >= n) break;
    try {
      if (await isGzip(file)) continue;
      const lines = await tailFile(file, n - entries.length);
      entries.unshift(...lines.flatMap((l) => alertEntry(l) ?? []));
    } catch {
      // Rotated away between listing and reading: the next file still counts.
    }
  }
  return entries.slice(-n);
}

/** The newest readable profile summary in `dir` (capture names start with their UTC time, so they sort). */
export async function lastCapture(dir: string): Promise<LastCapture | undefined> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => PROFILE_SUMMARY.test(n)).sort().reverse()) {
    const file = path.join(dir, name);
    try {
      const st = await fs.stat(file);
      if (!st.isFile() || st.size > MAX_SUMMARY_BYTES) continue;
      const summary = profileSummary(JSON.parse(await fs.readFile(file, 'utf8')));
      if (summary) return { summary_file: file, summary };
    } catch {
      // Removed by retention meanwhile, or not a summary: an older one may do.
    }
  }
  return undefined;
}

const who = (p: ProcessView) => `pid ${p.pid} (${p.role})`;

/**
 * How a process's heap grows, when it does: its trusted trend, or else the newest trend alert about it still
 * standing (a trend is shown only while its fit is good, and a leak's fit wavers with each collection).
 */
function growth(p: ProcessView, alerts: readonly AlertEntry[]): { how: string; offHeap: boolean } | undefined {
  if (p.trend && p.trend.mb_per_min > 0) return { how: `heap ${formatTrend(p.trend)}`, offHeap: false };
  const alert = [...alerts].reverse().find((a) => a.pid === p.pid && (a.metric === 'trend' || a.metric === 'offheap'));
  if (!alert || rank(alert.level as ProcessView['level']) < rank('warning') || rank(p.level) < rank('warning')) return undefined;
  return { how: `the last ${alert.metric} alert said: ${alert.message}`, offHeap: alert.metric === 'offheap' };
}

/** What to do about a process whose RSS is mostly outside its heap. */
function outsideHeap(p: ProcessView): string {
  const external = p.external_mb === undefined ? '' : `, ${Math.round(p.external_mb)} MB of it Buffers and ArrayBuffers`;
  return (
    `most of its memory is outside the V8 heap${external}, so a bigger --heap-limit would not help: ` +
    `\`cfn-supervise capture --pid ${p.pid} --snapshot\`, then \`cfn-supervise analyze <file>\` names what holds the Buffers ` +
    '(system / JSArrayBufferData and the array or property above it)'
  );
}

const serious = (level: string) => rank(level as ProcessView['level']) >= rank('critical');

/** What a person should do now, most urgent first; says so when nothing is wrong. */
export function nextSteps(d: Omit<Diagnostics, 'next' | 'generated_at'>): string[] {
  const steps: string[] = [];
  const { status, processes, system_memory: mem, capture } = d;
  const failing = status.supervisor.watch_failing;
  if (failing) steps.push(`the watch loop is failing: ${failing}; levels and trends below are stale. supervisor.log says more ("tick failed"); fix its cause or restart the supervisor`);
  const offHeap = (p: ProcessView) => p.heap_total_mb !== undefined && mostlyOffHeap(p.heap_total_mb * MB, p.rss_mb * MB);
  for (const p of processes.filter((q) => serious(q.level))) {
    // A bigger heap limit is no answer to memory that is not on the heap.
    if (offHeap(p)) {
      steps.push(`${who(p)} is at ${p.level} (RSS ${Math.round(p.rss_mb)} MB, heap ${formatHeap(p)}): ${outsideHeap(p)}`);
      continue;
    }
    steps.push(
      `${who(p)} is at ${p.level} (RSS ${Math.round(p.rss_mb)} MB, heap ${formatHeap(p)}): save the evidence now with \`cfn-supervise capture --pid ${p.pid}\`, ` +
        `then \`cfn-supervise gc --pid ${p.pid}\`; if the heap stays high, \`cfn-supervise restart\`, or raise --heap-limit if this is its work and not a leak`,
    );
  }
  if (serious(status.tree.level) && !processes.some((p) => serious(p.level))) {
    steps.push(`the whole tree is at ${status.tree.level} (RSS ${Math.round(status.tree.rss_mb)} MB): \`cfn-supervise cleanup\` collects garbage everywhere and reaps strays; \`cfn-supervise top\` shows who holds the memory`);
  }
  const growing = processes.flatMap((p) => {
    const g = growth(p, d.alerts);
    return g === undefined ? [] : [{ p, ...g }];
  });
  for (const { p, how, offHeap: outside } of growing) {
    if (outside || offHeap(p)) {
      if (!serious(p.level)) steps.push(`${who(p)}: ${how}: ${outsideHeap(p)}`);
      continue;
    }
    steps.push(
      `${who(p)}: ${how}: \`cfn-supervise capture --pid ${p.pid} --seconds 30\` now and again in a few minutes, ` +
        'then `cfn-supervise analyze <first> <second>` shows what grew (`cfn-supervise analyze <file>` for one)',
    );
  }
  const rising = growing.length > 0 || processes.some((p) => serious(p.level));
  const top = capture && topSites(capture.summary, 1)[0];
  if (rising && top) steps.push(`the last capture's top allocation site is ${top.site}: look there first`);
  for (const p of processes.filter((q) => q.level === 'warning' && !growing.some((g) => g.p === q))) {
    steps.push(`${who(p)} is at warning: watch it with \`cfn-supervise top\`; \`cfn-supervise report --since 24h\` shows whether it grows from run to run`);
  }
  if (mem.available_mb < mem.total_mb * LOW_AVAILABLE) {
    steps.push(
      d.memory_limit
        ? `the cgroup has only ${mem.available_mb} MB of its ${mem.total_mb} MB available (${d.memory_limit}): the kernel's OOM killer ends what outgrows it; lower --heap-limit or raise the limit`
        : `the machine has only ${mem.available_mb} MB of ${mem.total_mb} MB available: other programs compete with the agent; free memory or lower --heap-limit`,
    );
  }
  if (status.agent.phase === 'backoff') steps.push(`the agent ended and waits to be restarted (${status.agent.restarts} restarts so far): \`cfn-supervise report --since 24h\` shows how its runs ended`);
  else if (status.agent.phase === 'preflight') steps.push('the supervisor waits for memory before starting the agent (--min-free): free memory, or lower --min-free');
  else if (status.agent.restarts > 0) steps.push(`${status.agent.restarts} restarts since the supervisor started: \`cfn-supervise report --since 24h\` shows how the runs ended`);
  if (steps.length === 0) {
    steps.push(`nothing wrong: every process at ${status.tree.level}, no heap growing, ${mem.available_mb} MB available; \`cfn-supervise report\` shows the week`);
  }
  return steps;
}

async function capturesDirOf(client: ControlClient, stateDir: string): Promise<string> {
  const config = await client.request<Record<string, unknown>>('GET', '/config').catch(() => undefined);
  const dir = config?.['captures-dir'];
  return typeof dir === 'string' && dir !== '' ? dir : path.join(stateDir, 'captures');
}

export async function collectDiagnostics(stateDir: string): Promise<Diagnostics> {
  const client = new ControlClient(stateDir);
  const { status, processes } = await fetchStatus(client);
  const [alerts, capture] = await Promise.all([lastAlerts(stateDir), capturesDirOf(client, stateDir).then(lastCapture)]);
  const bound = memoryBound();
  const found = { system_memory: boundedMemory(bound), ...(bound ? { memory_limit: bound.source } : {}), status, processes, alerts, ...(capture ? { capture } : {}) };
  return { generated_at: new Date().toISOString(), ...found, next: nextSteps(found) };
}

const indent = (lines: string[]) => lines.map((l) => `  ${l}`);

/** Alert messages name their process themselves (`agent (pid 12): heap grows…`). */
function alertText(a: AlertEntry): string {
  return `${a.ts.replace(/\.\d+Z$/, 'Z')}  ${a.level.padEnd(8)}  ${a.message}`;
}

export function formatDiagnostics(d: Diagnostics): string {
  const m = d.system_memory;
  const summary = d.capture?.summary;
  const sites = summary ? topSitesText(summary, TOP_SITES) : [];
  const captureLines = summary
    ? [summary.file, ...(sites.length > 0 ? sites : [summary.note ?? 'no allocation site in it'])]
    : ['none analysed yet: `cfn-supervise capture` takes one'];
  return [
    ...statusHeader(d.status),
    '',
    d.memory_limit ? `Memory (within ${d.memory_limit})` : 'System memory',
    ...indent([`total ${m.total_mb} MB, available ${m.available_mb} MB, used ${m.used_mb} MB (${m.percent}%)`]),
    '',
    'Processes',
    ...indent(d.processes.length > 0 ? processTable(d.processes) : ['none right now']),
    '',
    'Last alerts (newest last)',
    ...indent(d.alerts.length > 0 ? d.alerts.map(alertText) : ['none']),
    '',
    "Last capture's top allocation sites",
    ...indent(captureLines),
    '',
    'What to do next',
    ...indent(d.next.map((s) => `- ${s}`)),
  ].join('\n');
}

/**
 * Prints the health check of the supervisor in `stateDir` (JSON with `json`) and returns 0. Throws
 * NoSupervisorError when none answers there (the CLI turns it into one line and exit 3).
 */
export async function diagnosticsCommand(stateDir: string, opts: { json?: boolean }): Promise<number> {
  const d = await collectDiagnostics(stateDir);
  out(opts.json ? JSON.stringify(diagnosticsJson(d), null, 2) : formatDiagnostics(d));
  return 0;
}

/** The capture as scripts want it: where it is and its top sites, not the whole summary. */
function diagnosticsJson(d: Diagnostics) {
  const summary = d.capture?.summary;
  const capture = summary && {
    file: summary.file,
    summary_file: d.capture!.summary_file,
    top_sites: topSites(summary, TOP_SITES),
    ...(summary.note ? { note: summary.note } : {}),
  };
  return { ...d, capture: capture ?? null };
}
