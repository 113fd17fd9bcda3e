// Detection and overshoot: an agent leaking ~20 MB/s against a 300 MB RSS limit, started directly and
// behind `sh -c` (the npx shape), under cfn-supervise (--hard 300, default 1 s interval) and PM2
// (max_memory_restart 300M). The agent's RSS is read from /proc every 50 ms by this process, so the
// crossing, the peak and the death are measured the same way for both; cfn-supervise's action time is
// its own `hard` alert. PM2's trials run at the same time as cfn-supervise's (they wait on PM2's 30 s
// check anyway), in one daemon for both shapes: PM2 checks all its apps in the same pass. Quick mode
// leaves PM2 out: half a minute of waiting on its check does not fit CI's two minutes.
import { agent, backendEnv, backends, supervise, withBackend } from './lib/cfn.mjs';
import { startPm2 } from './lib/pm2.mjs';
import { findNode, rssSampler } from './lib/proc.mjs';
import { marker, waitFor, withScope, within } from './lib/scope.mjs';
import { goalMet, stat } from './lib/stats.mjs';

export const selfRepeating = true;

const LIMIT_MB = 300;
const RATE_MB_S = 20;
// Starts the agent near 190 MB RSS, so a trial reaches the limit in ~6 s instead of ~13.
const PREFILL = 100;
const INTERVAL_MS = 1000;
// cfn-supervise refuses --hard below --critical (default 2048): the levels a user would set under 300.
const CFN_OPTIONS = ['--warning', '200', '--critical', '250', '--hard', String(LIMIT_MB), '--restart', 'never'];

const commandFor = (shape, id) => {
  const node = ['node', agent('grow.cjs'), id, String(RATE_MB_S), String(PREFILL)];
  // `; exit $?` keeps dash from exec'ing node in place of the shell, as npx's sh does.
  return shape === 'direct' ? node : ['sh', '-c', `${node.join(' ')}; exit $?`];
};

/** Follows the agent's node process from its start to its death, or until giveUpMs after the crossing. */
async function watch(findPid, giveUpMs) {
  const pid = await waitFor(findPid, { timeoutMs: 30_000, label: 'the agent' });
  const sampler = rssSampler(pid, 50);
  await waitFor(() => sampler.crossing(LIMIT_MB) || sampler.died, { timeoutMs: 60_000, label: 'limit crossing' });
  // Killed before a 50 ms sample saw the limit (the supervisor read it first): the crossing lies between the
  // last sample and the death, and the last sample's time makes the measured delay an upper bound.
  const crossed = sampler.crossing(LIMIT_MB) ?? sampler.samples.at(-1)?.t ?? null;
  await within(sampler.done, crossed + giveUpMs - Date.now());
  sampler.stop();
  return { pid, crossed, died: sampler.died, peak: sampler.peak() };
}

async function cfnTrial(scope, shape, backend) {
  const id = marker('detect');
  const sup = supervise(scope, CFN_OPTIONS, commandFor(shape, id), { env: backendEnv(backend) });
  const seen = await watch(() => findNode(id)[0], 30_000);
  await sup.exited;
  const hard = sup.alerts().find((a) => a.level === 'hard' && a.metric === 'rss');
  return { ...seen, acted: hard ? Date.parse(hard.ts) : null };
}

async function pm2Trial(scope, giveUpMs) {
  const pm2 = await startPm2(scope);
  const ids = { direct: marker('detect'), sh: marker('detect') };
  const app = (shape) => {
    const [script, ...args] = commandFor(shape, ids[shape]);
    return { name: shape, script, args, interpreter: script === 'node' ? undefined : 'none', max_memory_restart: `${LIMIT_MB}M`, autorestart: false };
  };
  // PM2 runs `node` scripts through its own container: give it the file, not the node binary.
  const direct = { ...app('direct'), script: agent('grow.cjs'), args: [ids.direct, String(RATE_MB_S), String(PREFILL)], interpreter: undefined };
  await pm2.start([direct, app('sh')]);
  const result = {};
  await Promise.all(
    ['direct', 'sh'].map(async (shape) => {
      const find = shape === 'direct' ? () => pm2.pid(shape) : () => findNode(ids[shape])[0];
      result[shape] = await watch(find, giveUpMs);
      result[shape].acted = result[shape].died;
      // PM2 restarts what it stopped: delete the app so the new agent does not leak in the next trial.
      await pm2.delete(shape);
    }),
  );
  return result;
}

export async function run({ quick, repeats }) {
  // Quick mode: one trial unless BENCH_REPEATS asks for more (run.js's repeats), and no PM2.
  const trials = repeats;
  // Two of PM2's 30 s checks after the crossing.
  const giveUpMs = 60_000;
  const measured = backends();
  const cfn = new Map(measured.map((b) => [b, { direct: [], sh: [] }]));
  const pm2 = { direct: [], sh: [] };
  for (let t = 0; t < trials; t++) {
    await withScope(async (scope) => {
      const pm2Run = quick ? null : pm2Trial(scope, giveUpMs);
      pm2Run?.catch(() => {});
      // Backends alternate within a trial: both see the machine as it is at that moment.
      for (const shape of ['direct', 'sh']) for (const b of measured) cfn.get(b)[shape].push(await cfnTrial(scope, shape, b));
      if (!pm2Run) return;
      const p = await pm2Run;
      pm2.direct.push(p.direct);
      pm2.sh.push(p.sh);
    });
  }

  const act = (r) => (r.acted && r.crossed !== null ? r.acted - r.crossed : null);
  const dead = (r) => (r.died && r.crossed !== null ? r.died - r.crossed : null);
  const peak = (r) => r.peak / LIMIT_MB;
  const cell = (rs, f) => {
    const values = rs.map(f);
    const missing = values.filter((v) => v === null).length;
    if (values.length === 0) return 'full mode only';
    if (missing === values.length) return `no action within ${giveUpMs / 1000} s (${missing}/${values.length})`;
    return missing ? `${JSON.stringify(stat(values))} + ${missing} without action` : stat(values);
  };
  const rows = [];
  for (const [backend, runs] of cfn) {
    // PM2 has no backend: its figures stand beside the first one's.
    const pm2Cell = (shape, f) => (backend === measured[0] ? cell(pm2[shape], f) : '');
    for (const shape of ['direct', 'sh']) {
      const label = withBackend(shape === 'direct' ? 'direct' : 'behind sh -c', backend);
      rows.push(
        {
          metric: `${label}: limit crossed → action`,
          'cfn-supervise': cell(runs[shape], act),
          pm2: pm2Cell(shape, act),
          unit: 'ms',
          goal: `≤ ${INTERVAL_MS} (one interval)`,
          'goal met': goalMet(runs[shape].map(act), (v) => v <= INTERVAL_MS),
        },
        {
          metric: `${label}: limit crossed → agent dead`,
          'cfn-supervise': cell(runs[shape], dead),
          pm2: pm2Cell(shape, dead),
          unit: 'ms',
          goal: '',
          'goal met': '',
        },
        {
          metric: `${label}: peak RSS / limit`,
          'cfn-supervise': cell(runs[shape], peak),
          pm2: pm2Cell(shape, peak),
          unit: '×',
          goal: '≤ 1.1',
          'goal met': goalMet(runs[shape].map(peak), (v) => v <= 1.1),
        },
      );
    }
  }
  return {
    name: 'detection',
    rows,
    notes:
      `${trials} trial(s) each. Agent: benchmarks/agents/grow.cjs, ~${RATE_MB_S} MB/s of JS heap, RSS sampled from /proc every 50 ms; ` +
      `crossing interpolated between samples. cfn-supervise: ${CFN_OPTIONS.join(' ')} (defaults otherwise: 1 s interval), action = its 'hard' alert. ` +
      `PM2: max_memory_restart ${LIMIT_MB}M, action = the agent's death; its memory check runs every 30 s from the daemon's start, so where a crossing falls in that period decides its delay. ` +
      `Peak for a run without action is the peak until the benchmark gave up (${giveUpMs / 1000} s after the crossing). Goal met counts cfn-supervise's trials.`,
  };
}
