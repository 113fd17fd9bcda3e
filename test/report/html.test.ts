// `report --html`: one self-contained page that headless Chromium renders from disk with no console error,
// no failed and no outside request, and with its charts drawn.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chromium, type Page, pngSize } from './chromium.js';
import { TempDirs, report } from './command.js';
import { jsonl, processRecord, profileSummaryRecord, runRecord } from './lines.js';

const DAY = 86_400_000;
const temp = new TempDirs('file');

/** Four days of history ending an hour ago: a leaking agent, a helper that plateaus, shells, OOMs, captures. */
function history(): Record<string, string> {
  const start = Date.now() - 4 * DAY;
  const runs: unknown[] = [];
  const processes: unknown[] = [];
  const alerts: unknown[] = [];
  const files: Record<string, string> = {};
  for (let i = 0; i < 16; i++) {
    const end = start + i * (DAY / 4) + 3_600_000;
    const id = `run-${i}`;
    const oom = i % 5 === 4;
    runs.push(runRecord(end, { id, reason: oom ? 'oom' : 'clean', restarts: oom ? 0 : i % 3, seconds: 3000 + i * 100, peak: 300 + i * 12 }));
    processes.push(processRecord(id, end, 'agent', 150 + i * 10, 80 + i * 8));
    processes.push(processRecord(id, end - 60_000, 'node:server.js', Math.min(220, 120 + i * 25), Math.min(140, 60 + i * 20)));
    processes.push(processRecord(id, end - 30_000, 'sh', 3 + (i % 2)));
    // Roles come from argv: the page must show one like this as text, not run it.
    if (i === 0) processes.push(processRecord(id, end - 20_000, 'node:<script>alert(1)</script>.js', 40));
    alerts.push({ ts: new Date(end - 120_000).toISOString(), level: i % 4 === 0 ? 'critical' : 'warning', metric: 'heap', pid: 1, message: 'heap high' });
    if (i % 3 === 0) {
      const stamp = new Date(end - 100_000).toISOString().replace(/:/g, '-');
      const capture = `captures/${stamp}-${1000 + i}-heap-critical.heapprofile`;
      files[`${capture}.summary.json`] = JSON.stringify(
        profileSummaryRecord(capture, [
          { fn: i % 2 ? 'rememberTurn' : '(anonymous)', share: 0.7, via: ['repeat'] },
          { fn: 'parseMessage', share: 0.2, via: ['JSON.parse'] },
          { fn: 'compileForInternalLoader', share: 0.05 },
        ]),
      );
    }
  }
  return { ...files, 'runs.jsonl': jsonl(runs), 'processes.jsonl': jsonl(processes), 'alerts.jsonl': jsonl(alerts) };
}

interface ChartBox {
  kind: string;
  width: number;
  height: number;
  shapes: number;
  /** The element at the centre of the chart's first bar or point is that shape: drawn, visible, not covered. */
  hit: boolean;
}

const CHARTS = `[...document.querySelectorAll('svg.chart')].map((svg) => {
  const box = svg.getBoundingClientRect();
  const shapes = svg.querySelectorAll('rect, circle, polyline');
  const first = svg.querySelector('g.series circle, g.group rect, g.row rect.bar');
  let hit = false;
  if (first) {
    first.scrollIntoView({ block: 'center' });
    const r = first.getBoundingClientRect();
    const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    hit = at === first || first.contains(at);
  }
  return { kind: svg.dataset.chart, width: box.width, height: box.height, shapes: shapes.length, hit };
})`;

let dir: string;
let file: string;
let browser: Chromium;
let page: Page;
let png: Buffer;

beforeAll(async () => {
  const state = temp.stateDir(history());
  dir = temp.make();
  file = path.join(dir, 'report.html');
  const r = await report(state, { since: '30d', html: file });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe(`cfn-supervise report: HTML written to ${file}\n`);
  browser = new Chromium('1200,900');
  page = await browser.open(pathToFileURL(file).href);
  png = await page.screenshot();
  // Kept beside the page for a person to look at while the test runs; removed with the folder.
  writeFileSync(path.join(dir, 'report.png'), png);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe('report --html', () => {
  it('is one owner-only file with no script and nothing to fetch', () => {
    const html = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(html).not.toMatch(/<script|<link rel="stylesheet"|<img|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });

  it('renders in Chromium with no console error and no failed or outside request', () => {
    expect(page.problems.errors).toEqual([]);
    expect(page.problems.failed).toEqual([]);
    expect(page.problems.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
  });

  it('draws every chart with a size and shapes, visible on the page', async () => {
    const charts = await page.evaluate<ChartBox[]>(CHARTS);
    expect(charts.map((c) => c.kind)).toEqual(['days', 'memory', 'heap', 'culprits']);
    for (const c of charts) {
      expect(c.width, c.kind).toBeGreaterThan(300);
      expect(c.height, c.kind).toBeGreaterThan(100);
      expect(c.shapes, c.kind).toBeGreaterThan(3);
      expect(c.hit, c.kind).toBe(true);
    }
  });

  it('shows what the journals say: the leak across runs, the culprit, the thresholds', async () => {
    const text = await page.evaluate<string>('document.body.innerText');
    expect(text).toMatch(/agent: leak across runs: peak heap \+8(\.0)? MB per run over 16 runs/);
    expect(text).not.toMatch(/node:server\.js: leak across runs/);
    expect(text).toMatch(/rememberTurn file:\/\/\/app\/agent\.js:3:5/);
    expect(text).toMatch(/cfn-supervise --warning \d+ --critical \d+ --hard \d+/);
    expect(text).toContain('node:<script>alert(1)</script>.js');
  });

  it('takes a full-page screenshot', () => {
    const size = pngSize(png);
    expect(size.width).toBeGreaterThan(1000);
    expect(size.height).toBeGreaterThan(1500);
  });
});
