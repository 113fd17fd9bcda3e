// Supervisor cost: CPU (% of one core) and RSS of the cfn-supervise process with 1, 10 and 50 node
// processes in the agent's tree, beside the PM2 daemon's with the same tree, both running at once so
// they see the same machine. CPU is the process's utime + stime over the window (worker threads included).
import { agent, backendEnv, backends, supervise, waitRegistered, withBackend } from './lib/cfn.mjs';
import { startPm2 } from './lib/pm2.mjs';
import { cpuSeconds, cpuSecondsWithChildren, nodeDescendants, statusMb } from './lib/proc.mjs';
import { marker, sleep, waitFor, withScope } from './lib/scope.mjs';
import { goalMet, median, stat } from './lib/stats.mjs';

export const selfRepeating = true;

// BENCH_SIZES=50 measures only that tree (a comparison of backends needs no more).
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [1, 10, 50];
const SETTLE_MS = 2000;

/**
 * CPU % of each pid over each slice of the window, and its RSS once a second: the slices give the spread
 * of a figure that one long window would give only as a mean.
 */
async function measure(pids, windowMs, sliceMs) {
  const cpu = pids.map(() => []);
  const cpuAll = pids.map(() => []);
  const rss = pids.map(() => []);
  const anon = pids.map(() => []);
  for (let slice = 0; slice < windowMs / sliceMs; slice++) {
    const cpu0 = pids.map(cpuSeconds);
    const all0 = pids.map(cpuSecondsWithChildren);
    const t0 = Date.now();
    while (Date.now() - t0 < sliceMs) {
      await sleep(1000);
      pids.forEach((pid, i) => {
        rss[i].push(statusMb(pid, 'VmRSS'));
        anon[i].push(statusMb(pid, 'RssAnon'));
      });
    }
    const seconds = (Date.now() - t0) / 1000;
    pids.forEach((pid, i) => {
      cpu[i].push(((cpuSeconds(pid) - cpu0[i]) / seconds) * 100);
      cpuAll[i].push(((cpuSecondsWithChildren(pid) - all0[i]) / seconds) * 100);
    });
  }
  return pids.map((_, i) => ({ cpu: cpu[i], cpuAll: cpuAll[i], rss: rss[i], anon: anon[i] }));
}

/** One tree under cfn-supervise on `backend`, and, with `pm2`, the same tree under PM2 beside it. */
async function side(size, backend, pm2, windowMs, sliceMs) {
  return withScope(async (scope) => {
    const command = [agent('tree.cjs'), marker('tree'), String(size)];
    const sup = supervise(scope, [], ['node', ...command], { env: backendEnv(backend) });
    const daemon = pm2 ? await startPm2(scope) : undefined;
    await daemon?.start([{ name: 'tree', script: command[0], args: command.slice(1), autorestart: false }]);
    await waitRegistered(sup, size, 120_000);
    if (daemon) await waitFor(() => nodeDescendants(daemon.daemonPid).length >= size, { timeoutMs: 120_000, label: `${size} node processes under PM2` });
    await sleep(SETTLE_MS);
    const [cfn, pm2Figures] = await measure(daemon ? [sup.pid, daemon.daemonPid] : [sup.pid], windowMs, sliceMs);
    return { size, backend, cfn, pm2: pm2Figures };
  });
}

export async function run({ quick }) {
  const windowMs = quick ? 10_000 : 60_000;
  const sliceMs = quick ? 2_000 : 10_000;
  // Quick mode measures every size (and backend) at once to stay within CI's time; the full mode one at a time.
  // PM2 has no backend: it runs beside the first one's trees only.
  const measured = backends();
  const sides = measured.flatMap((b) => SIZES.map((size) => [size, b, b === measured[0]]));
  const results = [];
  if (quick) results.push(...(await Promise.all(sides.map(([size, b, pm2]) => side(size, b, pm2, windowMs, sliceMs)))));
  else for (const [size, b, pm2] of sides) results.push(await side(size, b, pm2, windowMs, sliceMs));
  const rows = [];
  for (const { size, backend, cfn, pm2 } of results) {
    const label = withBackend(`${size} node process(es)`, backend);
    const rssCfn = median(cfn.rss);
    const rssPm2 = pm2 ? median(pm2.rss) : undefined;
    rows.push(
      {
        metric: `${label}: supervisor RSS`,
        'cfn-supervise': stat(cfn.rss),
        'pm2 daemon': pm2 ? stat(pm2.rss) : '',
        unit: 'MB',
        goal: '≤ PM2',
        'goal met': rssPm2 === undefined ? '' : rssCfn <= rssPm2 ? 'yes' : 'no',
      },
      // VmRSS also counts the pages of the node binary each process happened to touch (~45 MB, shared with
      // every node process): the anonymous part is what the process itself holds.
      {
        metric: `${label}: supervisor anonymous RSS`,
        'cfn-supervise': stat(cfn.anon),
        'pm2 daemon': pm2 ? stat(pm2.anon) : '',
        unit: 'MB',
        goal: 'informative',
        'goal met': '',
      },
      {
        metric: `${label}: supervisor CPU`,
        'cfn-supervise': stat(cfn.cpu),
        'pm2 daemon': pm2 ? stat(pm2.cpu) : '',
        unit: '% of a core',
        goal: size === 50 ? '≤ 1' : '',
        'goal met': size === 50 ? goalMet(cfn.cpu, (v) => v <= 1) : '',
      },
      // The portable backend's ps, lsof and free are processes of their own: their CPU is the supervisor's too.
      {
        metric: `${label}: supervisor CPU with the commands it ran (ps, lsof, free)`,
        'cfn-supervise': stat(cfn.cpuAll),
        'pm2 daemon': '',
        unit: '% of a core',
        goal: 'informative',
        'goal met': '',
      },
    );
  }
  return {
    name: 'cost',
    rows,
    notes:
      `${windowMs / 1000} s window per size (spread: its ${sliceMs / 1000} s slices for CPU, 1 s samples for RSS), after all processes registered + ${SETTLE_MS / 1000} s settling${quick ? ', every tree at once' : ''}. ` +
      'Agent: benchmarks/agents/tree.cjs (n - 1 idle node children). cfn-supervise with all defaults (a probe in every process, no inspector session until one is needed); ' +
      'PM2 fork mode, which sees only the top process. RSS is VmRSS; goal met compares medians for RSS, every slice for CPU.',
  };
}
