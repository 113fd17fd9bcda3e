// Restart latency: an agent that runs out of heap about 1 s after it starts (--heap-limit 64, 60 MB/s;
// its probe registers within 0.2 s) is restarted again and again; for each restart, from the end of the
// dead run (runs.jsonl) to the next agent started and to its probe registered (supervisor.log), beside
// node's own start-up (`node -e 0`, spawn to exit). Backoff is 0, so the figure is the supervisor's own
// path, not the delay it is asked to wait.
import { spawnSync } from 'node:child_process';
import { agent, supervise } from './lib/cfn.mjs';
import { cleanEnv, marker, waitFor, withScope } from './lib/scope.mjs';
import { median, stat } from './lib/stats.mjs';

export const selfRepeating = true;

export async function run({ quick }) {
  const restarts = quick ? 3 : 15;
  const options = ['--heap-limit', '64', '--backoff', '0', '--min-uptime', '0', '--max-restarts', String(restarts), '--restart', 'on-oom'];
  const bare = [];
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { env: cleanEnv() });
    bare.push(performance.now() - t);
  }
  const { spawned, registered, oom } = await withScope(async (scope) => {
    const sup = supervise(scope, options, ['node', agent('grow.cjs'), marker('restart'), '60']);
    await waitFor(() => sup.runs().length > restarts, { timeoutMs: 120_000, periodMs: 100, label: `${restarts} restarts` });
    await sup.stop();
    const runs = sup.runs();
    const log = sup.log();
    const started = log.filter((l) => l.msg === 'agent started');
    const probes = log.filter((l) => l.msg === 'node process registered');
    const spawnedMs = [];
    const registeredMs = [];
    for (let i = 0; i < restarts; i++) {
      const ended = Date.parse(runs[i].ts);
      const next = started[i + 1];
      const probe = next && probes.find((p) => p.pid === next.agent_pid);
      if (next) spawnedMs.push(Date.parse(next.ts) - ended);
      if (probe) registeredMs.push(Date.parse(probe.ts) - ended);
    }
    return { spawned: spawnedMs, registered: registeredMs, oom: runs.slice(0, restarts).filter((r) => r.exit?.reason === 'oom').length };
  });
  const nodeStart = median(bare);
  return {
    name: 'restart',
    rows: [
      { metric: 'OOM death → next agent spawned', value: stat(spawned), unit: 'ms', goal: '' },
      { metric: 'OOM death → next agent probe registered', value: stat(registered), unit: 'ms', goal: '' },
      { metric: 'bare node -e 0 start-up (spawn → exit)', value: stat(bare), unit: 'ms', goal: '' },
      { metric: 'restart latency minus node start-up', value: stat(registered.map((v) => v - nodeStart)), unit: 'ms', goal: '' },
      { metric: 'runs classified oom', value: (oom / restarts) * 100, unit: `% of ${restarts}`, goal: '100' },
    ],
    notes:
      `${restarts} restarts of benchmarks/agents/grow.cjs at 60 MB/s under cfn-supervise ${options.join(' ')}. ` +
      "Death = the run's line in runs.jsonl (when the supervisor recorded it); registered = 'node process registered' in supervisor.log for the next run's agent pid.",
  };
}
