// Soak: the supervisor's RSS and open file descriptors before and after thousands of short-lived node
// children (each probed, registered and gone), 4 at a time. Growth that stays after the churn is a leak
// per process: a session, a pidusage entry, a registry record or a socket not let go.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { agent, supervise, waitRegistered } from './lib/cfn.mjs';
import { cpuSeconds, descendants, fdCount, findNode, stat as procStat, statusMb } from './lib/proc.mjs';
import { marker, sleep, waitFor, withScope } from './lib/scope.mjs';

export const selfRepeating = true;
export const quickBeside = true;

const PARALLEL = 4;
const SETTLE_MS = 3000;

async function trial(total) {
  return withScope(async (scope) => {
    const done = path.join(scope.tempDir('cfn-bench-soak-'), 'done');
    const id = marker('soak');
    const sup = supervise(scope, [], ['node', agent('churn.cjs'), id, String(total), String(PARALLEL), done]);
    await waitRegistered(sup, 1);
    await sleep(SETTLE_MS);
    const before = { rss: statusMb(sup.pid, 'VmRSS'), fds: fdCount(sup.pid) };
    const t = Date.now();
    const cpu0 = cpuSeconds(sup.pid);
    process.kill(findNode(id)[0], 'SIGUSR2');
    const count = () => {
      try {
        return Number(readFileSync(done, 'utf8'));
      } catch {
        return 0;
      }
    };
    await waitFor(() => count() >= total, { timeoutMs: 900_000, periodMs: 200, label: `${total} children` });
    const seconds = (Date.now() - t) / 1000;
    const cpu = ((cpuSeconds(sup.pid) - cpu0) / seconds) * 100;
    await sleep(SETTLE_MS);
    const after = { rss: statusMb(sup.pid, 'VmRSS'), fds: fdCount(sup.pid) };
    return {
      before,
      after,
      seconds,
      cpu,
      registered: sup.registered().length - 1,
      zombies: descendants(sup.pid).filter((pid) => procStat(pid)?.state === 'Z').length,
    };
  });
}

export async function run({ quick }) {
  const total = quick ? 500 : 5000;
  const r = await trial(total);
  return {
    name: 'soak',
    rows: [
      { metric: 'supervisor RSS', before: r.before.rss, after: r.after.rss, growth: r.after.rss - r.before.rss, unit: 'MB', goal: 'growth small, not per child', 'goal met': '' },
      { metric: 'supervisor open fds', before: r.before.fds, after: r.after.fds, growth: r.after.fds - r.before.fds, unit: '', goal: 'growth 0', 'goal met': r.after.fds - r.before.fds <= 0 ? 'yes' : 'no' },
      { metric: 'children whose probe registered', before: '', after: (r.registered / total) * 100, growth: '', unit: `% of ${total}`, goal: '', 'goal met': '' },
      { metric: 'zombies left in the tree', before: '', after: r.zombies, growth: '', unit: '', goal: '0', 'goal met': r.zombies === 0 ? 'yes' : 'no' },
      { metric: 'churn duration', before: '', after: r.seconds, growth: '', unit: 's', goal: '', 'goal met': '' },
      { metric: 'supervisor CPU during the churn', before: '', after: r.cpu, growth: '', unit: '% of a core', goal: '', 'goal met': '' },
    ],
    notes:
      `One run: benchmarks/agents/churn.cjs starting ${total} node children that live 100 ms, ${PARALLEL} at a time, under cfn-supervise with defaults. ` +
      `Before = ${SETTLE_MS / 1000} s after the agent registered; after = ${SETTLE_MS / 1000} s after the last child ended. RSS is VmRSS; fds count /proc/<pid>/fd.`,
  };
}
