// What the probe costs console-heavy code. While any inspector session is attached, every console call goes
// through the inspector (and the probe discards what it retains): the probe attaches none below the warning
// level. An agent-style loop, 30,000 × console.log('step', i, { id, ok, tag }) to /dev/null, in an agent whose
// loop is ticking: unprobed, probed (no session: the default below the warning level), and probed while a
// session is attached (sampling: above the warning level), interleaved.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './lib/scope.mjs';
import { median } from './lib/stats.mjs';
import { probeLink } from './probe-startup.mjs';

const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

// Started by a line on stdin, once the supervisor side is ready; the interval keeps the loop ticking.
const AGENT = `setInterval(() => {}, 10);
process.stdin.once('data', () => {
  const t = performance.now();
  for (let i = 0; i < 30000; i++) console.log('step', i, { id: i, ok: i % 2 === 0, tag: 'agent' });
  process.stderr.write('ms ' + (performance.now() - t));
  process.exit(0);
});`;

export async function run({ quick }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfn-bench-console-'));
  const link = await probeLink(dir);
  const { sessions, probedEnv } = link;

  const loop = async (mode) => {
    const child = spawn(process.execPath, ['-e', AGENT], { env: mode === 'unprobed' ? cleanEnv() : probedEnv, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (mode !== 'unprobed') {
      await link.whenAttached(child.pid);
      if (mode === 'session') await sessions.startSampling(child.pid);
    }
    child.stdin.end('go\n');
    await exited;
    return Number(/ms ([\d.]+)/.exec(err)[1]);
  };

  const times = { unprobed: [], probed: [], session: [] };
  try {
    for (let i = 0; i < (quick ? 5 : 9); i++) for (const mode of Object.keys(times)) times[mode].push(await loop(mode));
  } finally {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(times.unprobed);
  const ratio = (xs) => xs.map((x) => round(x / base));
  const met = (xs, limit) => (median(xs) <= limit ? 'yes' : 'no');
  return {
    name: 'console',
    rows: [
      { metric: 'console.log loop, unprobed', value: round(base, 1), unit: 'ms', goal: 'reference', 'goal met': '' },
      { metric: 'console.log loop, probed (no session) ÷ unprobed', value: round(median(ratio(times.probed))), unit: 'ratio', goal: '≤ 1.05', 'goal met': met(ratio(times.probed), 1.05) },
      { metric: 'console.log loop, probed while sampling (session attached) ÷ unprobed', value: round(median(ratio(times.session))), unit: 'ratio', goal: 'informative (inspector cost)', 'goal met': '' },
    ],
    notes: `${times.unprobed.length} interleaved runs per mode of 30,000 console.log('step', i, { id, ok, tag }) to /dev/null, in an agent with a 10 ms interval running; median.`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run({ quick: process.argv.includes('--quick') });
  console.table(result.rows);
}
