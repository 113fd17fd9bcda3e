// Supervisor cost: CPU (% of one core) and RSS of the cfn-supervise process with 1, 10 and 50 node
// processes in the agent's tree, beside the PM2 daemon's with the same tree, both running at once so
// they see the same machine. CPU is the process's utime + stime over the window (worker threads included).
import { agent, supervise, waitRegistered } from './lib/cfn.mjs';
import { startPm2 } from './lib/pm2.mjs';
import { cpuSeconds, nodeDescendants, statusMb } from './lib/proc.mjs';
import { marker, sleep, waitFor, withScope } from './lib/scope.mjs';
import { goalMet, median, stat } from './lib/stats.mjs';

export const selfRepeating = true;

const SIZES = [1, 10, 50];
const SETTLE_MS = 3000;

/** CPU % and RSS samples (1 s) of each pid over windowMs. */
async function measure(pids, windowMs) {
  const cpu0 = pids.map(cpuSeconds);
  const t0 = Date.now();
  const rss = pids.map(() => []);
  while (Date.now() - t0 < windowMs) {
    await sleep(1000);
    pids.forEach((pid, i) => rss[i].push(statusMb(pid, 'VmRSS')));
  }
  const seconds = (Date.now() - t0) / 1000;
  return pids.map((pid, i) => ({ cpu: ((cpuSeconds(pid) - cpu0[i]) / seconds) * 100, rss: median(rss[i]) }));
}

async function side(size, windowMs) {
  return withScope(async (scope) => {
    const command = [agent('tree.cjs'), marker('tree'), String(size)];
    const sup = supervise(scope, [], ['node', ...command]);
    const pm2 = await startPm2(scope);
    await pm2.start([{ name: 'tree', script: command[0], args: command.slice(1), autorestart: false }]);
    await waitRegistered(sup, size, 120_000);
    await waitFor(() => nodeDescendants(pm2.daemonPid).length >= size, { timeoutMs: 120_000, label: `${size} node processes under PM2` });
    await sleep(SETTLE_MS);
    const [cfn, daemon] = await measure([sup.pid, pm2.daemonPid], windowMs);
    return { size, cfn, pm2: daemon };
  });
}

export async function run({ quick, repeats }) {
  const windowMs = quick ? 10_000 : 60_000;
  const trials = quick ? 1 : Math.max(1, repeats - 1);
  const results = [];
  for (let t = 0; t < trials; t++) {
    // Quick mode measures the three sizes at once to stay within CI's time; the full mode one at a time.
    if (quick) results.push(...(await Promise.all(SIZES.map((s) => side(s, windowMs)))));
    else for (const s of SIZES) results.push(await side(s, windowMs));
  }
  const rows = [];
  for (const size of SIZES) {
    const mine = results.filter((r) => r.size === size);
    const rss = { cfn: mine.map((r) => r.cfn.rss), pm2: mine.map((r) => r.pm2.rss) };
    const cpu = { cfn: mine.map((r) => r.cfn.cpu), pm2: mine.map((r) => r.pm2.cpu) };
    rows.push(
      {
        metric: `${size} node process(es): supervisor RSS`,
        'cfn-supervise': stat(rss.cfn),
        'pm2 daemon': stat(rss.pm2),
        unit: 'MB',
        goal: '≤ PM2',
        'goal met': goalMet(mine.map((r) => r.pm2.rss - r.cfn.rss), (v) => v >= 0),
      },
      {
        metric: `${size} node process(es): supervisor CPU`,
        'cfn-supervise': stat(cpu.cfn),
        'pm2 daemon': stat(cpu.pm2),
        unit: '% of a core',
        goal: size === 50 ? '≤ 1' : '',
        'goal met': size === 50 ? goalMet(cpu.cfn, (v) => v <= 1) : '',
      },
    );
  }
  return {
    name: 'cost',
    rows,
    notes:
      `${trials} trial(s), ${windowMs / 1000} s window after all processes registered + ${SETTLE_MS / 1000} s settling${quick ? ', the three sizes at once' : ''}. ` +
      'Agent: benchmarks/agents/tree.cjs (n - 1 idle node children). cfn-supervise with all defaults (probe and inspector session in every process); ' +
      'PM2 fork mode, which sees only the top process. RSS = median of 1 s VmRSS samples.',
  };
}
