// Agent overhead: the throughput of a CPU-and-allocation workload bare, under cfn-supervise with its
// defaults (probe, inspector session, always-on heap sampling) and under PM2, run one after the other in
// rounds whose order rotates, so drift of the machine (other work, thermal) falls on all three alike.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { agent, supervise } from './lib/cfn.mjs';
import { startPm2 } from './lib/pm2.mjs';
import { cleanEnv, marker, waitFor, withScope } from './lib/scope.mjs';
import { stat } from './lib/stats.mjs';

export const selfRepeating = true;

const MODES = ['bare', 'cfn-supervise', 'pm2'];

export async function run({ quick }) {
  // A round of bare spreads ±30 % on a shared 2-core VM: five rounds could not tell 0.98 from 1.
  const rounds = quick ? 2 : 11;
  const seconds = quick ? 1 : 4;
  const perSecond = Object.fromEntries(MODES.map((m) => [m, []]));
  await withScope(async (scope) => {
    const dir = scope.tempDir('cfn-bench-overhead-');
    const pm2 = await startPm2(scope);
    let n = 0;
    const once = async (mode) => {
      const id = marker('work');
      const out = path.join(dir, `${n++}.json`);
      const args = [agent('work.cjs'), id, String(seconds), out];
      if (mode === 'bare') {
        const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: 'ignore', detached: true });
        scope.track(child.pid);
        await new Promise((r) => child.once('exit', r));
      } else if (mode === 'cfn-supervise') {
        await supervise(scope, [], ['node', ...args]).exited;
      } else {
        await pm2.start([{ name: id, script: args[0], args: args.slice(1), autorestart: false }]);
        await waitFor(() => existsSync(out), { timeoutMs: 60_000, label: 'PM2 workload result' });
        await pm2.delete(id);
      }
      return JSON.parse(readFileSync(out, 'utf8')).perSecond;
    };
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < MODES.length; i++) {
        const mode = MODES[(r + i) % MODES.length];
        perSecond[mode].push(await once(mode));
      }
    }
  });
  const ratio = (mode) => perSecond[mode].map((v, i) => v / perSecond.bare[i]);
  const cfnRatio = stat(ratio('cfn-supervise'));
  return {
    name: 'overhead',
    rows: [
      { metric: 'workload units per second', bare: stat(perSecond.bare), 'cfn-supervise': stat(perSecond['cfn-supervise']), pm2: stat(perSecond.pm2), unit: '1/s', goal: '', 'goal met': '' },
      { metric: 'throughput / bare (same round)', bare: 1, 'cfn-supervise': cfnRatio, pm2: stat(ratio('pm2')), unit: '×', goal: 'cfn-supervise median ≥ 0.98', 'goal met': cfnRatio.median >= 0.98 ? 'yes' : 'no' },
    ],
    notes:
      `${rounds} rounds of ${seconds} s measured (after 0.5 s warm-up) per mode, order rotating each round. ` +
      'Workload: benchmarks/agents/work.cjs (build 200 objects, JSON round trip, sort), single-threaded. cfn-supervise with all defaults; PM2 fork mode.',
  };
}
