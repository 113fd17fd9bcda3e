// The report for people: plain text tables, the same data as the JSON.
import { table } from '../analysis/format.js';
import type { DayStats, RoleStats } from './aggregate.js';
import type { FullReport } from './collect.js';
import type { Percentiles } from './stats.js';

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

export const percent = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);

/** `2026-11-30 17:04 UTC` */
export const minute = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

export function counts(c: Record<string, number>): string {
  const entries = Object.entries(c).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : '-';
}

const mb = (p: Percentiles | null, key: keyof Percentiles): string => (p ? String(p[key]) : '-');

function dayRow(d: Omit<DayStats, 'date'>, date: string): string[] {
  return [date, `${d.runs}`, `${d.restarts}`, `${d.oom}`, `${d.limit}`, `${d.crash}`, duration(d.uptimeSeconds), percent(d.availability), counts(d.alerts)];
}

function runsSection(r: FullReport): string {
  if (r.days.length === 0) return 'Runs per day (UTC)\n  (no runs or alerts in the period)';
  const rows = r.days.map((d) => dayRow(d, d.date));
  rows.push(dayRow(r.totals, 'total'));
  return [
    'Runs per day (UTC)',
    table(['date', ' runs', ' restarts', ' oom', ' limit', ' crash', ' uptime', ' availability', 'alerts'], rows),
    `  exit reasons: ${counts(r.totals.reasons)}; availability = uptime ÷ (uptime + time down between a run and its restart)`,
    `  processes memory ended (oom, limit, oom-kill), agents and their children: ${counts(r.totals.members)}`,
  ].join('\n');
}

function roleRow(role: RoleStats): string[] {
  const g = role.growth;
  return [
    role.role,
    `${role.count}`,
    `${role.runs}`,
    mb(role.rssMb, 'p50'),
    mb(role.rssMb, 'p95'),
    mb(role.rssMb, 'p99'),
    mb(role.rssMb, 'max'),
    mb(role.heapMb, 'p50'),
    mb(role.heapMb, 'p95'),
    mb(role.heapMb, 'p99'),
    mb(role.heapMb, 'max'),
    g ? `${g.slopeMbPerRun >= 0 ? '+' : ''}${g.slopeMbPerRun.toFixed(1)} MB/run${g.leak ? '  LEAK' : ''}` : '-',
    counts(role.ends),
  ];
}

function rolesSection(r: FullReport): string {
  if (r.roles.length === 0) return 'Memory per role\n  (no runs or processes in the period)';
  const verdicts = r.roles.filter((x) => x.growth).map((x) => `  ${x.role}: ${x.growth!.verdict}`);
  return [
    'Memory per role (MB; peaks per process, per run for the whole tree)',
    table(
      ['role', ' count', ' runs', ' rss p50', ' p95', ' p99', ' max', ' heap p50', ' p95', ' p99', ' max', 'across runs', 'ended by memory'],
      r.roles.map(roleRow),
    ),
    ...(verdicts.length ? ['', 'Growth across runs (least-squares slope of each run’s peak)', ...verdicts] : []),
  ].join('\n');
}

function culpritsSection(r: FullReport): string {
  const c = r.culprits;
  if (c.sites.length === 0) return `Culprits\n  (no analysed captures in the period)`;
  return [
    `Culprits: top allocation sites in ${c.captures} analysed capture${c.captures === 1 ? '' : 's'}`,
    table(
      [' #', ' top', ' in top 5', ' max share', 'site', 'via'],
      c.sites.map((s, i) => [`${i + 1}`, `${s.timesTop}`, `${s.appearances}`, percent(s.maxShare), s.site, s.via.join(', ')]),
    ),
  ].join('\n');
}

function recommendationsSection(r: FullReport): string {
  const rec = r.recommendations;
  const lines = ['Recommended thresholds'];
  if (rec.items.length > 0) {
    lines.push(`  cfn-supervise ${rec.flags} -- <command>`, '', '  evidence:');
    lines.push(table(['flag', ' MB', 'from'], rec.items.map((i) => [i.flag, `${i.valueMb}`, i.evidence])).replace(/^/gm, '  '));
    lines.push('', '  as a config file (--config FILE, YAML):', ...rec.config.split('\n').map((l) => `    ${l}`));
  }
  if (rec.notes.length > 0) lines.push(...(rec.items.length ? [''] : []), ...rec.notes.map((n) => `  note: ${n}`));
  return lines.join('\n');
}

function sourcesSection(r: FullReport): string | undefined {
  const problems: string[] = [];
  const all = { ...r.sources.journals, captures: r.sources.captures };
  for (const [name, c] of Object.entries(all)) {
    if (c.skipped > 0) problems.push(`  ${name}: skipped ${c.skipped} invalid line${c.skipped === 1 ? '' : 's'} of ${c.lines}`);
    for (const u of c.unreadable) problems.push(`  ${name}: could not read ${u}`);
  }
  return problems.length ? ['Skipped', ...problems].join('\n') : undefined;
}

export function formatText(r: FullReport): string {
  const header = `cfn-supervise report: ${r.stateDir}, ${minute(r.since)} → ${minute(r.until)}`;
  return [header, runsSection(r), rolesSection(r), culpritsSection(r), recommendationsSection(r), sourcesSection(r)].filter(Boolean).join('\n\n');
}
