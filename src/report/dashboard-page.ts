// The dashboard as one HTML page: inline CSS (the report's, plus a few rules) and one inline script under a
// nonce, no external asset. The script builds every element from the feed with textContent and setAttribute:
// argv, titles, roles and site names come from the agent's tree, and none of it is ever parsed as markup.
import { CSS } from './html.js';
import { esc } from './svg.js';

const DASHBOARD_CSS = `
body{max-width:1400px}[hidden]{display:none!important}
header{display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}header h1{margin:0}
#banner{background:#fdecea;border:1px solid #e0a49d;color:#8a1c13;border-radius:6px;padding:8px 12px;margin:10px 0}
#reply{min-height:1.4em;color:#1d232b;background:#f5f7f9;border-radius:6px;padding:4px 10px}
#reply.error{color:#8a1c13;background:#fdecea}
td.cmd{max-width:360px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,monospace;font-size:12px}
.level-ok{color:#2e7d32}.level-info{color:#3b6fb6}.level-warning{color:#b26a00;font-weight:600}.level-critical,.level-imminent,.level-hard{color:#b3261e;font-weight:700}
svg.spark{display:block}svg.spark polyline{fill:none;stroke-width:1.5}svg.rss polyline{stroke:#3b6fb6}svg.heap polyline{stroke:#d9822b}svg.external polyline{stroke:#3a9a5b}
button{font:inherit;font-size:12px;padding:2px 8px;margin:0 2px;border:1px solid #9aa6b2;border-radius:4px;background:#fff;cursor:pointer}
button:disabled{opacity:.5;cursor:wait}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
ol#alerts{list-style:none;padding:0;margin:0;font-size:13px;max-height:360px;overflow-y:auto}ol#alerts li{padding:2px 0;border-bottom:1px solid #eef1f4}
#icicle{max-width:100%;height:auto;display:block;margin:8px 0;border:1px solid #eef1f4}
td.n,td.actions{white-space:nowrap}
.muted{color:#5b6673}
`;

const SCRIPT = String.raw`
'use strict';
const token = document.querySelector('meta[name="cfn-token"]').content;
// The token stays out of the address bar, the history and any screenshot of the page once it is in use.
if (location.search) history.replaceState(null, '', '/');
const $ = (id) => document.getElementById(id);
const SVGNS = 'http://www.w3.org/2000/svg';
const SPARK = JSON.parse(document.body.dataset.spark);
const mb = (v) => (v === undefined || v === null ? '-' : (v >= 10 ? String(Math.round(v)) : v.toFixed(1)) + ' MB');
const mib = (b) => (b < 1048576 ? Math.ceil(b / 1024) + ' KiB' : (b / 1048576).toFixed(1) + ' MiB');
const time = (iso) => new Date(iso).toLocaleTimeString();
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function spark(kind) {
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + SPARK.width + ' ' + SPARK.height);
  svg.setAttribute('width', SPARK.width);
  svg.setAttribute('height', SPARK.height);
  svg.setAttribute('class', 'spark ' + kind);
  svg.appendChild(document.createElementNS(SVGNS, 'polyline'));
  return svg;
}
function button(label, action, pid) {
  const b = el('button', label);
  b.dataset.action = action;
  if (pid !== undefined) b.dataset.pid = String(pid);
  return b;
}
const COLUMNS = ['pid', 'role', 'cmd', 'rss', 'heap', 'external', 'level', 'spark-rss', 'spark-heap', 'spark-external', 'actions'];
const rows = new Map();
function row(p) {
  let r = rows.get(p.pid);
  if (!r) {
    const tr = el('tr');
    tr.dataset.pid = String(p.pid);
    const cells = {};
    for (const c of COLUMNS) tr.appendChild((cells[c] = el('td', undefined, c + (/^(pid|rss|heap|external)$/.test(c) ? ' n' : ''))));
    for (const kind of ['rss', 'heap', 'external']) cells['spark-' + kind].appendChild(spark(kind));
    cells.actions.append(button('GC', 'gc', p.pid), button('Capture', 'capture', p.pid));
    r = { tr, cells };
    rows.set(p.pid, r);
  }
  const { cells } = r;
  const cmd = (p.argv || []).join(' ');
  cells.pid.textContent = String(p.pid);
  cells.role.textContent = p.role;
  cells.cmd.textContent = cmd;
  cells.cmd.title = cmd;
  cells.rss.textContent = mb(p.rss_mb);
  cells.heap.textContent = p.heap_used_mb === undefined ? '-' : mb(p.heap_used_mb) + (p.heap_limit_mb === undefined ? '' : ' / ' + mb(p.heap_limit_mb));
  cells.external.textContent = mb(p.external_mb);
  cells.level.textContent = p.level;
  cells.level.className = 'level level-' + p.level;
  for (const kind of ['rss', 'heap', 'external']) cells['spark-' + kind].firstChild.firstChild.setAttribute('points', p.spark[kind]);
  return r.tr;
}
function cards(s) {
  const a = s.agent, t = s.tree;
  const items = [
    ['agent', a.phase + (a.pid ? ' · pid ' + a.pid : '')],
    ['restarts', a.restarts],
    ['processes', t.processes],
    ['tree RSS', mb(t.rss_mb)],
    ['tree heap', mb(t.heap_used_mb)],
    ['level', t.level],
  ];
  $('cards').replaceChildren(...items.map(([k, v]) => {
    const c = el('div', k, 'card');
    c.appendChild(el('b', v));
    return c;
  }));
}
function alerts(list) {
  $('alerts').replaceChildren(...list.slice().reverse().map((a) => {
    const li = el('li');
    li.append(el('span', time(a.ts) + ' ', 'muted'), el('span', a.level, 'level-' + a.level), el('span', ' ' + (a.pid ? 'pid ' + a.pid + (a.role ? ' (' + a.role + ')' : '') + ': ' : '') + a.message));
    return li;
  }));
  $('no-alerts').hidden = list.length > 0;
}
function captures(list) {
  $('captures').replaceChildren(...list.map((c) => {
    const tr = el('tr');
    const open = button(c.file, 'view');
    open.dataset.file = c.file;
    const name = el('td');
    name.appendChild(open);
    tr.append(name, el('td', c.kind === 'heapprofile' ? 'profile' : 'snapshot'), el('td', c.pid, 'n'), el('td', mib(c.bytes), 'n'), el('td', time(c.at)));
    return tr;
  }));
  $('no-captures').hidden = list.length > 0;
}
let updates = 0;
function render(s) {
  document.body.dataset.updates = String(++updates);
  document.body.dataset.supervisor = s.supervisor;
  $('updated').textContent = 'updated ' + time(s.at);
  const banner = $('banner');
  banner.hidden = s.supervisor === 'up';
  banner.textContent = s.supervisor === 'up' ? '' : (s.supervisor === 'gone' ? 'The supervisor has gone: ' : 'The supervisor does not answer: ') + (s.problem || '') + '. Waiting for it.';
  if (s.status) {
    cards(s.status);
    $('where').textContent = s.status.supervisor.state_dir + ' · supervisor pid ' + s.status.supervisor.pid + ' · every ' + s.status.supervisor.interval_ms + ' ms';
  }
  const seen = new Set(s.processes.map((p) => p.pid));
  for (const [pid, r] of rows) if (!seen.has(pid)) { r.tr.remove(); rows.delete(pid); }
  $('processes').replaceChildren(...s.processes.map(row));
  alerts(s.alerts);
  captures(s.captures);
}
function say(text, error) {
  const r = $('reply');
  r.textContent = text;
  r.className = error ? 'error' : '';
}
async function call(path, body) {
  const res = await fetch(path, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json', 'x-cfn-token': token }, body: body === undefined ? undefined : JSON.stringify(body) });
  const value = await res.json();
  if (!res.ok || value.error) throw new Error((value.error && value.error.message) || 'HTTP ' + res.status);
  return value;
}
function gcText(r) {
  if (r.results.length === 0) return 'no node process to collect';
  return r.results.map((x) => x.pid + (x.role ? ' (' + x.role + ')' : '') + ': heap ' + mib(x.before_bytes) + ' → ' + mib(x.after_bytes)).join('; ');
}
async function view(file) {
  $('capture-title').textContent = file;
  $('capture-view').hidden = false;
  $('sites').replaceChildren();
  const img = $('icicle');
  img.hidden = !file.endsWith('.heapprofile');
  if (!img.hidden) img.src = '/icicle?file=' + encodeURIComponent(file);
  const v = await call('/api/capture-view?file=' + encodeURIComponent(file));
  $('capture-note').textContent = v.note || '';
  $('sites').replaceChildren(...v.sites.map((s) => {
    const tr = el('tr');
    tr.append(el('td', mib(s.bytes), 'n'), el('td', (s.share * 100).toFixed(1) + '%', 'n'), el('td', s.site));
    return tr;
  }));
}
document.addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  const pid = b.dataset.pid === undefined ? undefined : Number(b.dataset.pid);
  b.disabled = true;
  try {
    if (b.dataset.action === 'view') await view(b.dataset.file);
    else if (b.dataset.action === 'gc') say(gcText(await call('/api/gc', pid === undefined ? {} : { pid })));
    else {
      say('capturing' + (pid === undefined ? '' : ' pid ' + pid) + '…');
      const r = await call('/api/capture', pid === undefined ? {} : { pid });
      say('captured ' + r.file);
    }
  } catch (err) {
    say(b.dataset.action + ': ' + err.message, true);
  } finally {
    b.disabled = false;
  }
});
const events = new EventSource('/events');
events.onmessage = (e) => {
  $('conn').textContent = 'live';
  render(JSON.parse(e.data));
};
events.onerror = () => {
  $('conn').textContent = 'disconnected from the dashboard; retrying';
};
`;

export interface PageOptions {
  token: string;
  nonce: string;
  spark: { width: number; height: number };
}

/** The Content-Security-Policy the page is served with: nothing runs or loads but what it carries itself. */
export const pageCsp = (nonce: string): string =>
  `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export function dashboardPage(o: PageOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="cfn-token" content="${esc(o.token)}"><link rel="icon" href="data:,"><title>cfn-supervise dashboard</title>
<style nonce="${esc(o.nonce)}">${CSS}${DASHBOARD_CSS}</style></head>
<body data-spark="${esc(JSON.stringify(o.spark))}" data-updates="0">
<header><h1>cfn-supervise dashboard</h1><span id="where" class="meta"></span><span id="updated" class="muted"></span><span id="conn" class="muted">connecting…</span></header>
<div id="banner" role="alert" hidden></div>
<div id="cards" class="cards"></div>
<h2>Processes <button data-action="gc">GC all</button><button data-action="capture">Capture largest heap</button></h2>
<p id="reply" role="status"></p>
<table><thead><tr><th class="n">PID</th><th>role</th><th>command</th><th class="n">RSS</th><th class="n">heap used / limit</th><th class="n">external</th><th>level</th><th>RSS, last minutes</th><th>heap</th><th>external</th><th></th></tr></thead>
<tbody id="processes"></tbody></table>
<div class="cols">
<section><h2>Alerts</h2><p id="no-alerts" class="note">No alerts.</p><ol id="alerts"></ol></section>
<section><h2>Captures</h2><p id="no-captures" class="note">No captures yet.</p><table><tbody id="captures"></tbody></table></section>
</div>
<section id="capture-view" hidden><h2 id="capture-title"></h2><p id="capture-note" class="note"></p>
<img id="icicle" alt="the capture's call tree: each frame as wide as the live sampled bytes allocated in and under it">
<table><thead><tr><th class="n">live</th><th class="n">share</th><th>top allocation sites</th></tr></thead><tbody id="sites"></tbody></table></section>
<script nonce="${esc(o.nonce)}">${SCRIPT}</script>
</body></html>
`;
}
