// Small inline SVG charts for the HTML report: no script, no external asset, so the page renders from disk in
// any browser. Every chart is drawn in a fixed viewBox and scales with the page.

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const CHART_WIDTH = 760;
const BAR = '#3b6fb6';
const BEHIND = '#b9cbe6';
const MAX_LABEL = 96;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };
const fmt = (n: number): string => (Math.abs(n) >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1));

/** About `count` round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Each value placed between the values' own min (0) and max (1), so a slow leak still shows its slope. */
export function unitScale(values: readonly number[]): number[] {
  const lo = Math.min(...values);
  const span = Math.max(...values) - lo;
  return values.map((v) => (span === 0 ? 0 : (v - lo) / span));
}

/** A sparkline's `points` attribute: the values across `width`, scaled into `height` (top is high). */
export function sparkPoints(values: readonly number[], width: number, height: number): string {
  if (values.length === 0) return '';
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return unitScale(values)
    .map((u, i) => `${(i * step).toFixed(1)},${(height - 1 - u * (height - 2)).toFixed(1)}`)
    .join(' ');
}

export function frame(kind: string, label: string, height: number, body: string): string {
  return `<svg class="chart" data-chart="${esc(kind)}" role="img" aria-label="${esc(label)}" viewBox="0 0 ${CHART_WIDTH} ${height}" width="${CHART_WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg">${body}</svg>`;
}

function legend(items: readonly { name: string; color: string }[], y: number): string {
  let x = PAD.left;
  return items
    .map((item) => {
      const out = `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${item.color}"/><text x="${x + 14}" y="${y}" class="legend">${esc(item.name)}</text>`;
      x += 28 + item.name.length * 6;
      return out;
    })
    .join('');
}

function yAxis(maxValue: number, plotHeight: number, unit: string): { scale: (v: number) => number; svg: string; max: number } {
  const ticks = niceTicks(0, maxValue > 0 ? maxValue : 1);
  const max = Math.max(ticks.at(-1)!, maxValue);
  const scale = (v: number) => PAD.top + plotHeight - (v / max) * plotHeight;
  const svg = ticks
    .map((t) => `<line x1="${PAD.left}" x2="${CHART_WIDTH - PAD.right}" y1="${scale(t)}" y2="${scale(t)}" class="grid"/><text x="${PAD.left - 6}" y="${scale(t) + 4}" class="tick" text-anchor="end">${fmt(t)}</text>`)
    .join('');
  return { scale, svg: `${svg}<text x="12" y="${PAD.top + plotHeight / 2}" class="unit" transform="rotate(-90 12 ${PAD.top + plotHeight / 2})" text-anchor="middle">${esc(unit)}</text>`, max };
}

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  /** x in ms since the epoch, y in the chart's unit. */
  readonly points: readonly { x: number; y: number }[];
}

/** Spans the points' times with a margin; a single moment gets a minute either side. */
function timeDomain(series: readonly LineSeries[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) for (const p of s.points) [min, max] = [Math.min(min, p.x), Math.max(max, p.x)];
  const margin = Math.max((max - min) * 0.03, 60_000);
  return [min - margin, max + margin];
}

/** Values over time, one line per series, with its points marked (a series of one point is a dot). */
export function lineChart(kind: string, label: string, series: readonly LineSeries[], unit: string): string {
  const height = 300;
  const plotHeight = height - PAD.top - PAD.bottom - 18;
  const plotWidth = CHART_WIDTH - PAD.left - PAD.right;
  const [from, to] = timeDomain(series);
  const x = (t: number) => PAD.left + ((t - from) / (to - from)) * plotWidth;
  const y = yAxis(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y))), plotHeight, unit);
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => from + f * (to - from));
  const anchors = ['start', 'middle', 'middle', 'middle', 'end'];
  const xAxis = xTicks
    .map((t, i) => `<text x="${x(t)}" y="${PAD.top + plotHeight + 16}" class="tick" text-anchor="${anchors[i]}">${new Date(t).toISOString().slice(5, 16).replace('T', ' ')}</text>`)
    .join('');
  const lines = series
    .map((s) => {
      const pts = s.points.map((p) => `${x(p.x).toFixed(1)},${y.scale(p.y).toFixed(1)}`);
      const line = pts.length > 1 ? `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>` : '';
      const dots = s.points
        .map((p) => `<circle cx="${x(p.x).toFixed(1)}" cy="${y.scale(p.y).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.name}: ${fmt(p.y)} ${unit} at ${new Date(p.x).toISOString()}`)}</title></circle>`)
        .join('');
      return `<g class="series">${line}${dots}</g>`;
    })
    .join('');
  return frame(kind, label, height, `${y.svg}${xAxis}${lines}${legend(series, height - 6)}`);
}

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(kind: string, label: string, categories: readonly string[], series: readonly BarSeries[], unit: string): string {
  const height = 300;
  const plotHeight = height - PAD.top - PAD.bottom - 18;
  const plotWidth = CHART_WIDTH - PAD.left - PAD.right;
  const y = yAxis(Math.max(0, ...series.flatMap((s) => s.values)), plotHeight, unit);
  const group = plotWidth / Math.max(1, categories.length);
  const bar = Math.max(2, Math.min(28, (group * 0.8) / Math.max(1, series.length)));
  const bars = categories
    .map((cat, i) => {
      const left = PAD.left + i * group + (group - bar * series.length) / 2;
      const rects = series
        .map((s, j) => {
          const v = s.values[i] ?? 0;
          const top = y.scale(v);
          return `<rect x="${(left + j * bar).toFixed(1)}" y="${top.toFixed(1)}" width="${(bar - 1).toFixed(1)}" height="${(PAD.top + plotHeight - top).toFixed(1)}" fill="${s.color}"><title>${esc(`${cat} ${s.name}: ${v}`)}</title></rect>`;
        })
        .join('');
      const text = `<text x="${(PAD.left + i * group + group / 2).toFixed(1)}" y="${PAD.top + plotHeight + 16}" class="tick" text-anchor="middle">${esc(cat)}</text>`;
      return `<g class="group">${rects}${text}</g>`;
    })
    .join('');
  return frame(kind, label, height, `${y.svg}${bars}${legend(series, height - 6)}`);
}

export interface HBar {
  readonly label: string;
  readonly value: number;
  /** A second, lighter bar behind the first (e.g. appearances behind times top). */
  readonly behind?: number;
}

/** Horizontal bars, one row each, the label above its bar: for long labels such as code locations. */
export function hbarChart(kind: string, label: string, rows: readonly HBar[], names: { value: string; behind?: string }): string {
  const row = 38;
  const height = PAD.top + rows.length * row + 28;
  const plotWidth = CHART_WIDTH - PAD.left - PAD.right;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.value, r.behind ?? 0)));
  const width = (v: number) => (v / max) * (plotWidth - 40);
  const body = rows
    .map((r, i) => {
      const top = PAD.top + i * row;
      const behind = r.behind !== undefined ? `<rect x="${PAD.left}" y="${top + 16}" width="${width(r.behind).toFixed(1)}" height="14" fill="${BEHIND}"/>` : '';
      const text = r.label.length > MAX_LABEL ? `${r.label.slice(0, MAX_LABEL - 1)}…` : r.label;
      return `<g class="row"><text x="${PAD.left}" y="${top + 11}" class="label">${esc(text)}<title>${esc(r.label)}</title></text>${behind}<rect class="bar" x="${PAD.left}" y="${top + 16}" width="${Math.max(1, width(r.value)).toFixed(1)}" height="14" fill="${BAR}"/><text x="${(PAD.left + Math.max(width(r.value), width(r.behind ?? 0)) + 6).toFixed(1)}" y="${top + 27}" class="tick">${r.value}${r.behind !== undefined ? ` / ${r.behind}` : ''}</text></g>`;
    })
    .join('');
  const keys = [{ name: names.value, color: BAR }, ...(names.behind ? [{ name: names.behind, color: BEHIND }] : [])];
  return frame(kind, label, height, `${body}${legend(keys, height - 6)}`);
}
