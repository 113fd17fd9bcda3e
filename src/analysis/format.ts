import { HEAD_STEPS, type RetainerPath } from './paths.js';
import type { Attributed, CallSite, ProfileDiff, ProfileSummary } from './profile.js';
import type { SnapshotDiff, SnapshotSummary } from './snapshot.js';
import type { Diff, Summary } from './worker.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? '-' : '';
  return unit === 0 ? `${sign}${value} B` : `${sign}${value.toFixed(1)} ${UNITS[unit]}`;
}

function signedBytes(bytes: number): string {
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function viaText(s: Attributed): string {
  return s.via?.length ? `via ${s.via.join(', ')}` : '';
}

/** `rememberTurn file:///app/agent.js:7:3 via repeat`: the code to look at, then the builtins it allocated through. */
export function siteText(s: CallSite & Attributed): string {
  const where = s.url ? `${s.functionName} ${s.url}:${s.line}:${s.column}` : s.functionName;
  const via = viaText(s);
  return via ? `${where} ${via}` : where;
}

/** `global.leaks → Array[3] → handler()`: each step is the edge from the previous node, then the node. */
export function pathText(path: RetainerPath): string {
  let text = path.steps[0]?.node ?? '';
  path.steps.forEach((step, i) => {
    if (i === 0) return;
    if (i === HEAD_STEPS && path.elided > 0) text += ` … ${path.elided} more … `;
    text += `${step.edge} → ${step.node}`;
  });
  return text;
}

/** Rows as aligned columns; numeric columns (by the header's leading space) align right. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.trim().length, ...rows.map((r) => r[c]!.length)));
  const right = header.map((h) => h.startsWith(' '));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header.map((h) => h.trim())), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

function section(title: string, body: string, empty: boolean): string {
  return `${title}\n${empty ? '  (none)' : body}`;
}

function profileReport(s: ProfileSummary): string {
  if (s.note) return `Heap profile ${s.file}: ${s.note}`;
  return [
    `Heap profile ${s.file}: ${formatBytes(s.totalBytes)} live sampled in ${count(s.sampleCount)} samples`,
    section(
      'Top allocation sites (self size; builtins charged to their caller)',
      table(
        [' #', ' bytes', ' share', 'function', 'location', 'via'],
        s.sites.map((x, i) => [`${i + 1}`, formatBytes(x.bytes), percent(x.share), x.functionName, x.url ? `${x.url}:${x.line}:${x.column}` : '', x.via?.join(', ') ?? '']),
      ),
      s.sites.length === 0,
    ),
    section(
      'By function',
      table(
        [' bytes', ' share', 'function', 'file'],
        s.functions.map((x) => [formatBytes(x.bytes), percent(x.share), x.functionName, x.url]),
      ),
      s.functions.length === 0,
    ),
    section(
      'By file',
      table(
        [' bytes', ' share', 'file'],
        s.files.map((x) => [formatBytes(x.bytes), percent(x.share), x.url || '(native)']),
      ),
      s.files.length === 0,
    ),
  ].join('\n\n');
}

function snapshotReport(s: SnapshotSummary): string {
  const retained = s.topRetained.map((o, i) =>
    [
      `  ${i + 1}. ${o.name} @${o.id}  retains ${formatBytes(o.retainedSize)} (${percent(o.share)}), self ${formatBytes(o.selfSize)}`,
      `     ${o.path ? pathText(o.path) : '(not reachable from a GC root)'}`,
    ].join('\n'),
  );
  return [
    `Heap snapshot ${s.file}: ${formatBytes(s.totalSize)} in ${count(s.nodeCount)} objects, ${count(s.edgeCount)} references`,
    section(
      'Constructors (by self size)',
      table(
        [' count', ' self size', ' share', 'constructor'],
        s.constructors.map((c) => [count(c.count), formatBytes(c.selfSize), percent(c.share), c.name]),
      ),
      s.constructors.length === 0,
    ),
    section('Largest retained objects (where memory fans out), with a shortest path from a GC root', retained.join('\n'), retained.length === 0),
  ].join('\n\n');
}

function profileDiffReport(d: ProfileDiff): string {
  return [
    `Heap profile diff ${d.files[0]} → ${d.files[1]}: ${formatBytes(d.totalBytes.before)} → ${formatBytes(d.totalBytes.after)} (${signedBytes(d.totalBytes.delta)})`,
    d.note ??
    section(
      'Sites that grew most (leak suspects)',
      table(
        [' #', ' growth', ' before', ' after', 'site'],
        d.grew.map((g, i) => [`${i + 1}`, signedBytes(g.delta), formatBytes(g.before), formatBytes(g.after), siteText(g)]),
      ),
      d.grew.length === 0,
    ),
  ].join('\n\n');
}

function snapshotDiffReport(d: SnapshotDiff): string {
  return [
    `Heap snapshot diff ${d.files[0]} → ${d.files[1]}: ${formatBytes(d.totalSize.before)} → ${formatBytes(d.totalSize.after)} (${signedBytes(d.totalSize.delta)}), ${count(d.nodeCount.before)} → ${count(d.nodeCount.after)} objects`,
    section(
      'Constructors that grew most (leak suspects)',
      table(
        [' #', ' size growth', ' count growth', ' count after', 'constructor'],
        d.grew.map((g, i) => [`${i + 1}`, signedBytes(g.sizeDelta), `${g.countDelta > 0 ? '+' : ''}${count(g.countDelta)}`, count(g.countAfter), g.name]),
      ),
      d.grew.length === 0,
    ),
  ].join('\n\n');
}

export function formatReport(result: Summary | Diff): string {
  switch (result.kind) {
    case 'heapprofile':
      return profileReport(result);
    case 'heapsnapshot':
      return snapshotReport(result);
    case 'heapprofile-diff':
      return profileDiffReport(result);
    case 'heapsnapshot-diff':
      return snapshotDiffReport(result);
  }
}
