// The report as one self-contained HTML page: inline CSS and SVG, no script, no external asset; it opens from
// disk in any browser and prints.
import type { RoleStats } from './aggregate.js';
import type { FullReport } from './collect.js';
import type { Percentiles } from './stats.js';
import { type LineSeries, barChart, esc, hbarChart, lineChart } from './svg.js';
import { counts, duration, minute, percent } from './text.js';

const PALETTE = ['#3b6fb6', '#d9822b', '#3a9a5b', '#c23b3b', '#7d5ba6', '#8c6d31', '#d45ea1', '#5b8c8c', '#6b6b6b', '#b0a524'];
/** A chart line of more points than this is thinned to the highest point of each slice: peaks are the point. */
const MAX_POINTS = 400;

export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1d232b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2e8;padding-bottom:4px}
.meta{color:#5b6673;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #dde2e8;border-radius:6px;padding:8px 12px;min-width:110px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #eef1f4;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.leak{color:#b3261e;font-weight:600}
pre{background:#f5f7f9;border:1px solid #dde2e8;border-radius:6px;padding:8px 12px;overflow-x:auto}
svg.chart{max-width:100%;height:auto;display:block;margin:8px 0}
svg .grid{stroke:#e6e9ed;stroke-width:1}svg text{font:11px system-ui,sans-serif;fill:#3c4650}svg .label{font-size:12px;fill:#1d232b}
.note{color:#5b6673}
`;

function row(cells: readonly (string | number)[], numeric: readonly boolean[], tag = 'td'): string {
  return `<tr>${cells.map((c, i) => `<${tag}${numeric[i] ? ' class="n"' : ''}>${esc(String(c))}</${tag}>`).join('')}</tr>`;
}

function htmlTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], numeric: readonly boolean[]): string {
  return `<table><thead>${row(header, numeric, 'th')}</thead><tbody>${rows.map((r) => row(r, numeric)).join('')}</tbody></table>`;
}

/** At most MAX_POINTS points: the highest of each consecutive slice. */
function thin(points: { x: number; y: number }[]): { x: number; y: number }[] {
  if (points.length <= MAX_POINTS) return points;
  const size = Math.ceil(points.length / MAX_POINTS);
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < points.length; i += size) {
    out.push(points.slice(i, i + size).reduce((a, b) => (b.y > a.y ? b : a)));
  }
  return out;
}

function memorySeries(roles: readonly RoleStats[], metric: 'rssMb' | 'heapMb'): LineSeries[] {
  return roles
    .map((r, i) => ({
      name: r.role,
      color: PALETTE[i % PALETTE.length]!,
      points: thin(r.series.flatMap((p) => (p[metric] !== undefined ? [{ x: Date.parse(p.t), y: p[metric] }] : []))),
    }))
    .filter((s) => s.points.length > 0);
}

function cards(r: FullReport): string {
  const t = r.totals;
  const items: [string, string][] = [
    ['runs', `${t.runs}`],
    ['restarts', `${t.restarts}`],
    ['OOMs', `${t.oom}`],
    ['limit kills', `${t.limit}`],
    ['crashes', `${t.crash}`],
    ['uptime', duration(t.uptimeSeconds)],
    ['availability', percent(t.availability)],
  ];
  return `<div class="cards">${items.map(([k, v]) => `<div class="card">${esc(k)}<b>${esc(v)}</b></div>`).join('')}</div>`;
}

function daysSection(r: FullReport): string {
  if (r.days.length === 0) return '<h2>Runs per day</h2><p class="note">No runs or alerts in the period.</p>';
  const dates = r.days.map((d) => d.date.slice(5));
  const chart = barChart(
    'days',
    'runs, restarts, OOMs, limit kills and crashes per day',
    dates,
    [
      { name: 'runs', color: PALETTE[0]!, values: r.days.map((d) => d.runs) },
      { name: 'restarts', color: PALETTE[1]!, values: r.days.map((d) => d.restarts) },
      { name: 'OOMs', color: PALETTE[3]!, values: r.days.map((d) => d.oom) },
      { name: 'limit kills', color: PALETTE[4]!, values: r.days.map((d) => d.limit) },
      { name: 'crashes', color: PALETTE[5]!, values: r.days.map((d) => d.crash) },
    ],
    'count',
  );
  const rows = r.days.map((d) => [d.date, d.runs, d.restarts, d.oom, d.limit, d.crash, duration(d.uptimeSeconds), percent(d.availability), counts(d.alerts)]);
  const table = htmlTable(
    ['date (UTC)', 'runs', 'restarts', 'OOMs', 'limit kills', 'crashes', 'uptime', 'availability', 'alerts'],
    rows,
    [false, true, true, true, true, true, true, true, false],
  );
  return `<h2>Runs per day</h2>${chart}${table}<p class="note">Exit reasons: ${esc(counts(r.totals.reasons))}. Availability is uptime ÷ (uptime + time down between a run and its restart).</p>`;
}

const p = (x: Percentiles | null, k: keyof Percentiles): string => (x ? String(x[k]) : '-');

function rolesSection(r: FullReport): string {
  if (r.roles.length === 0) return '<h2>Memory per role</h2><p class="note">No runs or processes in the period.</p>';
  const rss = lineChart('memory', 'peak RSS per run and role over time', memorySeries(r.roles, 'rssMb'), 'MB RSS');
  const heapSeries = memorySeries(r.roles, 'heapMb');
  const heap = heapSeries.length ? `<h3>Peak heap used</h3>${lineChart('heap', 'peak heap used per run and role over time', heapSeries, 'MB heap')}` : '';
  const table = htmlTable(
    ['role', 'count', 'runs', 'RSS p50', 'p95', 'p99', 'max', 'heap p50', 'p95', 'p99', 'max', 'across runs'],
    r.roles.map((x) => [x.role, x.count, x.runs, p(x.rssMb, 'p50'), p(x.rssMb, 'p95'), p(x.rssMb, 'p99'), p(x.rssMb, 'max'), p(x.heapMb, 'p50'), p(x.heapMb, 'p95'), p(x.heapMb, 'p99'), p(x.heapMb, 'max'), x.growth?.verdict ?? '-']),
    [false, true, true, true, true, true, true, true, true, true, true, false],
  );
  const leaks = r.roles.filter((x) => x.growth?.leak).map((x) => `<p class="leak">${esc(`${x.role}: ${x.growth!.verdict}`)}</p>`);
  return `<h2>Memory per role</h2><h3>Peak RSS</h3>${rss}${heap}${leaks.join('')}${table}<p class="note">MB; peaks per process (per run for the whole tree). Growth across runs is the least-squares slope of each run’s peak.</p>`;
}

function culpritsSection(r: FullReport): string {
  const c = r.culprits;
  if (c.sites.length === 0) return '<h2>Culprits</h2><p class="note">No analysed captures in the period.</p>';
  const chart = hbarChart(
    'culprits',
    'top allocation sites: times top and times in the top five',
    c.sites.map((s) => ({ label: s.via.length ? `${s.site} via ${s.via.join(', ')}` : s.site, value: s.timesTop, behind: s.appearances })),
    { value: 'times the top site', behind: 'times in the top 5' },
  );
  const table = htmlTable(
    ['#', 'top', 'in top 5', 'max share', 'site', 'via', 'last seen'],
    c.sites.map((s, i) => [i + 1, s.timesTop, s.appearances, percent(s.maxShare), s.site, s.via.join(', '), minute(s.lastSeen)]),
    [true, true, true, true, false, false, false],
  );
  return `<h2>Culprits</h2><p>Top allocation sites in ${c.captures} analysed capture${c.captures === 1 ? '' : 's'}.</p>${chart}${table}`;
}

function recommendationsSection(r: FullReport): string {
  const rec = r.recommendations;
  const parts = ['<h2>Recommended thresholds</h2>'];
  if (rec.items.length) {
    parts.push(`<pre>${esc(`cfn-supervise ${rec.flags} -- <command>`)}</pre>`);
    parts.push(htmlTable(['flag', 'MB', 'from'], rec.items.map((i) => [i.flag, i.valueMb, i.evidence]), [false, true, false]));
    parts.push(`<p>As a config file (<code>--config FILE</code>, YAML):</p><pre>${esc(rec.config)}</pre>`);
  }
  parts.push(...rec.notes.map((n) => `<p class="note">${esc(n)}</p>`));
  return parts.join('');
}

function sourcesSection(r: FullReport): string {
  const all = { ...r.sources.journals, captures: r.sources.captures };
  const rows = Object.entries(all).map(([name, c]) => [name, c.files, c.lines, c.skipped, c.unreadable.join('; ') || '-']);
  return `<h2>Sources</h2>${htmlTable(['journal', 'files', 'lines', 'skipped', 'unreadable'], rows, [false, true, true, true, false])}`;
}

export function renderHtml(r: FullReport): string {
  const title = `cfn-supervise report: ${r.stateDir}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>${esc(title)}</title><style>${CSS}</style></head>
<body><h1>cfn-supervise report</h1><p class="meta">${esc(r.stateDir)} · ${esc(minute(r.since))} → ${esc(minute(r.until))}</p>
${cards(r)}${daysSection(r)}${rolesSection(r)}${culpritsSection(r)}${recommendationsSection(r)}${sourcesSection(r)}
</body></html>
`;
}
