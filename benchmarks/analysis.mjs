// Heap snapshot analysis, ours against memlab's, on the same generated snapshot: wall time and peak RSS.
// Each side runs in its own child process; peak RSS is that process's maxRSS (VmHWM), worker threads included.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;
/** Snapshot bytes per generated item, measured on Node 20; the base heap adds about 4 MB. */
const BYTES_PER_ITEM = 400;
const BASE_BYTES = 4 * MB;

// A plausible object graph: records with strings, small arrays, nested objects and parent links.
const GENERATE = `
const items = [];
const count = Number(process.argv[1]);
for (let i = 0; i < count; i++) {
  items.push({ id: i, name: 'item-' + i, tags: [i % 7, i % 11, i], parent: items[i >> 1] ?? null, payload: { v: i, w: i * 0.5 } });
}
globalThis.items = items;
require('node:v8').writeHeapSnapshot(process.argv[2]);
`;

const OURS = `
const { analyzeFile, closeSharedAnalysisPool } = await import(${JSON.stringify(pathToFileURL(path.join(repo, 'dist/analysis/index.js')).href)});
await analyzeFile(process.argv[1], { top: 20 });
await closeSharedAnalysisPool();
console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
`;

// What memlab does to load a snapshot for analysis (its getFullHeapFromFile): parse, shortest paths, dominators.
const MEMLAB = `
const { utils, analysis, config } = require(${JSON.stringify(path.join(repo, 'node_modules/@memlab/core'))});
config.muteConsole = true;
utils.getSnapshotFromFile(process.argv[1], { buildNodeIdIndex: true }).then((snapshot) => {
  analysis.preparePathFinder(snapshot);
  console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
});
`;

function runNode(args) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`node exited ${code}: ${stderr.trim().split('\n').at(-1)}`));
      else resolve({ seconds, ...JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') });
    });
  });
}

/** One snapshot per size for the whole process: generating a large one takes longer than analysing it. */
const snapshots = new Map();

async function snapshotOf(targetBytes) {
  let file = snapshots.get(targetBytes);
  if (!file) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfn-bench-analysis-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    file = path.join(dir, 'generated.heapsnapshot');
    const items = Math.max(1000, Math.round((targetBytes - BASE_BYTES) / BYTES_PER_ITEM));
    await runNode(['--max-old-space-size=8192', '-e', `${GENERATE}\nconsole.log('{}')`, String(items), file]);
    snapshots.set(targetBytes, file);
  }
  return { file, size: statSync(file).size };
}

export async function run({ quick }) {
  const { file, size } = await snapshotOf((quick ? 25 : 250) * MB);
  const ours = await runNode(['--input-type=module', '-e', OURS, file]);
  // memlab keeps the parsed heap on the JS heap: give it room, so it is measured, not killed.
  const memlab = await runNode(['--max-old-space-size=16384', '-e', MEMLAB, file]);
  const rss = (r) => r.maxRssKb / 1024;
  return {
    name: 'analysis',
    rows: [
      { metric: 'snapshot file size', ours: size / MB, memlab: size / MB, unit: 'MB', goal: quick ? '~25' : '~250' },
      { metric: 'wall time', ours: ours.seconds, memlab: memlab.seconds, unit: 's', goal: 'ours ≤ memlab / 3' },
      { metric: 'peak RSS', ours: rss(ours), memlab: rss(memlab), unit: 'MB', goal: 'ours ≤ memlab' },
      { metric: 'speed-up (memlab time / ours)', ours: memlab.seconds / ours.seconds, memlab: 1, unit: '×', goal: '≥ 3' },
      { metric: 'peak RSS / file size', ours: rss(ours) / (size / MB), memlab: rss(memlab) / (size / MB), unit: '×', goal: 'ours ≤ 3' },
    ],
    notes:
      'Ours: analyzeFile (streaming parse, dominators, retained sizes, histogram, top retained with retainer paths) in the piscina pool. ' +
      'memlab: getSnapshotFromFile + preparePathFinder (parse, shortest paths, dominators, retained sizes), with --max-old-space-size=16384. ' +
      'Times are whole child processes, node start-up included.' +
      (quick
        ? ' The goals are for the full ~250 MB snapshot: at 25 MB, process and worker start-up (~0.15 s) and the ~60 MB of an idle Node process with a worker weigh on both ratios.'
        : ''),
  };
}
