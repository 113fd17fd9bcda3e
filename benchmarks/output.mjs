// Agent output throughput through the supervisor's pipe and copy (stdout not a terminal: the agent log is on)
// against the bare agent, its reader `cat > /dev/null`, interleaved. Two workloads: 64 KiB writes (bulk) and
// one write per 80-byte line (lines, what console.log does), each timed by the agent itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agent, cli } from './lib/cfn.mjs';
import { cleanEnv } from './lib/scope.mjs';
import { median, stat } from './lib/stats.mjs';

const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export async function run({ quick }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfn-bench-output-'));
  const timeFile = path.join(dir, 'ms');
  const once = (mode, mb, supervised) => {
    const command = `node ${agent('output.cjs')} ${mode} ${mb} ${timeFile}`;
    const state = path.join(dir, 'state');
    const line = supervised ? `${cli} --state-dir ${state} --min-free 0 --restart never -- ${command}` : command;
    execFileSync('sh', ['-c', `${line} | cat > /dev/null`], { env: cleanEnv(), stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
    return (mb / Number(readFileSync(timeFile, 'utf8'))) * 1000;
  };
  const workloads = { bulk: quick ? 128 : 512, lines: quick ? 16 : 64 };
  const rows = [];
  try {
    for (const [mode, mb] of Object.entries(workloads)) {
      const bare = [];
      const ratios = [];
      for (let i = 0; i < (quick ? 3 : 7); i++) {
        const b = once(mode, mb, false);
        const s = once(mode, mb, true);
        bare.push(b);
        ratios.push(s / b);
      }
      rows.push({ metric: `${mode}: bare throughput`, value: round(median(bare), 1), unit: 'MB/s', goal: 'reference', 'goal met': '' });
      const r = stat(ratios.map((x) => round(x)));
      rows.push({ metric: `${mode}: supervised ÷ bare (same window)`, value: r.median, unit: '×', goal: '≥ 0.95', 'goal met': r.median >= 0.95 ? 'yes' : 'no' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    name: 'output',
    rows,
    notes: 'The agent writes to stdout, read by `cat > /dev/null`; supervised, through the pipe, the copy and the agent log (timestamps, redaction). Bare and supervised runs interleaved; median.',
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run({ quick: process.argv.includes('--quick') });
  console.table(result.rows);
}
