// `npm run bench [-- --quick]`: runs every benchmarks/*.mjs that exports run({ quick }), repeats it, and
// writes benchmarks/results/latest.json and latest.md with the median and range of every figure.
// BENCH_QUICK=1 is the same as --quick; BENCH_REPEATS overrides the repeat count.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const repeats = Number(process.env.BENCH_REPEATS) || (quick ? 1 : 3);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rows of repeated runs, matched by metric: numbers become { median, min, max, runs }, the rest is kept. */
function aggregate(runs) {
  return runs[0].rows.map((row) => {
    const same = runs.map((r) => r.rows.find((x) => x.metric === row.metric));
    const out = {};
    for (const [key, value] of Object.entries(row)) {
      const values = same.map((r) => r?.[key]);
      out[key] =
        typeof value === 'number' && values.every((v) => typeof v === 'number')
          ? { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values }
          : value;
    }
    return out;
  });
}

function number(n) {
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function cell(value) {
  if (value && typeof value === 'object' && 'median' in value) {
    return value.runs.length > 1 ? `${number(value.median)} (${number(value.min)}–${number(value.max)})` : number(value.median);
  }
  return value === undefined || value === null ? '' : String(value);
}

function markdown(results) {
  const m = results.machine;
  const lines = [
    '# Benchmarks',
    '',
    `${results.date} · ${m.cpu} · ${m.cores} cores · ${m.memoryGiB} GiB · Node ${m.node} · ${results.quick ? 'quick' : 'full'} mode · ${results.repeats} run(s) each, median (min–max)`,
  ];
  for (const b of results.benchmarks) {
    lines.push('', `## ${b.name}`, '');
    if (b.error) {
      lines.push(`Failed: ${b.error}`);
      continue;
    }
    const columns = [...new Set(b.rows.flatMap((r) => Object.keys(r)))];
    lines.push(`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`);
    for (const row of b.rows) lines.push(`| ${columns.map((c) => cell(row[c])).join(' | ')} |`);
    if (b.notes) lines.push('', b.notes);
  }
  return `${lines.join('\n')}\n`;
}

const files = (await readdir(here)).filter((f) => f.endsWith('.mjs')).sort();
const benchmarks = [];
let failed = false;
for (const file of files) {
  const mod = await import(pathToFileURL(path.join(here, file)).href);
  if (typeof mod.run !== 'function') continue;
  process.stderr.write(`bench ${file}: ${repeats} run(s)${quick ? ', quick' : ''}\n`);
  try {
    const runs = [];
    for (let i = 0; i < repeats; i++) runs.push(await mod.run({ quick }));
    benchmarks.push({ name: runs[0].name, rows: aggregate(runs), notes: runs.at(-1).notes });
  } catch (err) {
    failed = true;
    benchmarks.push({ name: file.replace(/\.mjs$/, ''), error: err instanceof Error ? err.message : String(err) });
    process.stderr.write(`bench ${file} failed: ${err instanceof Error ? err.message : err}\n`);
  }
}

const results = {
  date: new Date().toISOString(),
  quick,
  repeats,
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  },
  benchmarks,
};
const out = path.join(here, 'results');
await mkdir(out, { recursive: true });
await writeFile(path.join(out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(out, 'latest.md'), markdown(results));
process.stdout.write(markdown(results));
process.exitCode = failed ? 1 : 0;
