// `npm run bench [-- --quick] [-- name …]`: runs every benchmarks/*.mjs that exports run({ quick }) (or
// only the named ones), repeats it, and writes benchmarks/results/latest.json and latest.md with the
// median and range of every figure. BENCH_QUICK=1 is the same as --quick; BENCH_REPEATS overrides the
// repeat count; BENCH_BACKENDS=linux,portable measures the platform backends side by side (lib/cfn.mjs). A module exporting `selfRepeating = true` is called once with { quick, repeats } and
// returns figures already summarised (lib/stats.mjs): its runs are trials it interleaves or bounds itself,
// and its 'goal met' must look at every trial, not at the first repeat's. `quickBeside`: see below.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const repeats = Number(process.env.BENCH_REPEATS) || (quick ? 1 : 3);
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));

/** Rows of repeated runs, matched by metric: numbers become { median, min, max, runs }, the rest is kept. */
function aggregate(runs) {
  return runs[0].rows.map((row) => {
    const same = runs.map((r) => r.rows.find((x) => x.metric === row.metric));
    const out = {};
    for (const [key, value] of Object.entries(row)) {
      const values = same.map((r) => r?.[key]);
      if (typeof value === 'number' && values.every((v) => typeof v === 'number')) {
        out[key] = { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values };
      } else if (key === 'goal met') {
        out[key] = verdicts(values);
      } else {
        out[key] = value;
      }
    }
    return out;
  });
}

/** Each run's own verdict counts: the first run's alone would speak for all of them. */
function verdicts(values) {
  if (values.every((v) => v === values[0])) return values[0];
  if (values.every((v) => v === 'yes' || v === 'no')) return `${values.filter((v) => v === 'yes').length}/${values.length} runs`;
  return values.join(' / ');
}

function number(n) {
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function cell(value) {
  if (value && typeof value === 'object' && 'median' in value) {
    return value.runs.length > 1 ? `${number(value.median)} (${number(value.min)}–${number(value.max)})` : number(value.median);
  }
  if (typeof value === 'number') return number(value);
  return value === undefined || value === null ? '' : String(value);
}

function markdown(results) {
  const m = results.machine;
  const lines = [
    '# Benchmarks',
    '',
    `${results.date} · ${m.cpu} · ${m.cores} cores · ${m.memoryGiB} GiB · Node ${m.node} · ${results.quick ? 'quick' : 'full'} mode · ${results.repeats} run(s) each, median (min–max)`,
    ...(results.quick ? ['', 'Quick mode (CI): fewer trials, and some benchmarks ran beside the others, so every figure here was taken on a busy machine.'] : []),
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
    if (b.seconds) lines.push('', `(${Math.round(b.seconds)} s)`);
  }
  return `${lines.join('\n')}\n`;
}

// Every figure is this node's: the benchmarks start agents and the installed command (bin/cfn-supervise) through
// the `node` on PATH, and helpers through process.execPath. Another node on PATH would mix two in one table.
const onPath = spawnSync('node', ['-p', 'process.execPath'], { encoding: 'utf8' }).stdout?.trim();
if (!onPath || realpathSync(onPath) !== realpathSync(process.execPath)) {
  process.stderr.write(`bench: the node on PATH (${onPath || 'none'}) is not the one running the benchmarks (${process.execPath}): put that node first on PATH\n`);
  process.exit(2);
}

const files = (await readdir(here))
  .filter((f) => f.endsWith('.mjs') && (only.length === 0 || only.includes(f.replace(/\.mjs$/, ''))))
  .sort();
let failed = false;
async function bench(file, mod) {
  const lane = quick && mod.quickBeside ? ', beside the others' : '';
  process.stderr.write(`bench ${file}: ${mod.selfRepeating ? 'own trials' : `${repeats} run(s)`}${quick ? ', quick' : ''}${lane}\n`);
  const started = Date.now();
  try {
    const runs = [];
    for (let i = 0; i < (mod.selfRepeating ? 1 : repeats); i++) runs.push(await mod.run({ quick, repeats }));
    const notes = [runs.at(-1).notes, lane && 'Quick mode: ran at the same time as the other benchmarks.'].filter(Boolean).join(' ');
    return { name: runs[0].name, rows: mod.selfRepeating ? runs[0].rows : aggregate(runs), notes, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    failed = true;
    process.stderr.write(`bench ${file} failed: ${err instanceof Error ? err.message : err}\n`);
    return { name: file.replace(/\.mjs$/, ''), error: err instanceof Error ? err.message : String(err) };
  }
}

// Quick mode must fit CI's two minutes: benchmarks whose figures do not depend on a quiet machine (shares,
// counts, growth; contention only makes them harder) declare `quickBeside` and run beside the others.
// The full mode runs everything one after the other.
const modules = [];
for (const file of files) {
  const mod = await import(pathToFileURL(path.join(here, file)).href);
  if (typeof mod.run === 'function') modules.push({ file, mod });
}
const beside = new Map(modules.filter(({ mod }) => quick && mod.quickBeside).map(({ file, mod }) => [file, bench(file, mod)]));
const done = new Map();
for (const { file, mod } of modules) if (!beside.has(file)) done.set(file, await bench(file, mod));
for (const [file, result] of beside) done.set(file, await result);
const benchmarks = modules.map(({ file }) => done.get(file));

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
// A run of some benchmarks must not replace the committed table of all of them; BENCH_RESULTS names its own files.
const base = process.env.BENCH_RESULTS || (only.length ? 'selected' : 'latest');
await mkdir(out, { recursive: true });
await writeFile(path.join(out, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(out, `${base}.md`), markdown(results));
process.stdout.write(markdown(results));
process.exitCode = failed ? 1 : 0;
