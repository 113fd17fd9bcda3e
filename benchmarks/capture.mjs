// Streaming capture: the supervisor's RSS while `cfn-supervise capture --snapshot` takes a heap snapshot
// of a large agent heap. The probe writes the chunks into the file; what is measured is that nothing of
// the snapshot passes through (or piles up in) the supervisor: its RSS sampled every 50 ms against its
// RSS just before, and its VmHWM after against the same.
import { statSync } from 'node:fs';
import { agent, supervise, waitRegistered } from './lib/cfn.mjs';
import { rssSampler, statusMb } from './lib/proc.mjs';
import { marker, sleep, waitFor, withScope } from './lib/scope.mjs';
import { goalMet, stat } from './lib/stats.mjs';

export const selfRepeating = true;

async function trial(heapMb) {
  return withScope(async (scope) => {
    // grow.cjs at 0 MB/s holds what its prefill allocated: about 1 MB of heap per MB asked.
    const sup = supervise(scope, [], ['node', agent('grow.cjs'), marker('capture'), '0', String(heapMb)]);
    await waitRegistered(sup, 1);
    const status = async () => JSON.parse(await sup.command(['status', '--json']));
    const heap = await waitFor(async () => (await status()).tree.heap_used_mb >= heapMb * 0.9 && (await status()).tree.heap_used_mb, {
      timeoutMs: 60_000,
      periodMs: 500,
      label: 'the agent heap',
    });
    await sleep(1000);
    const before = statusMb(sup.pid, 'VmRSS');
    const sampler = rssSampler(sup.pid, 50);
    const t = Date.now();
    const out = JSON.parse(await sup.command(['capture', '--snapshot', '--json'], { timeoutMs: 300_000 }));
    const seconds = (Date.now() - t) / 1000;
    sampler.stop();
    return {
      heap,
      fileMb: statSync(out.file).size / 1024 / 1024,
      seconds,
      growth: sampler.peak() - before,
      hwmGrowth: Math.max(0, statusMb(sup.pid, 'VmHWM') - before),
    };
  });
}

export async function run({ quick, repeats }) {
  const heapMb = quick ? 64 : 250;
  const results = [];
  for (let i = 0; i < (quick ? 1 : repeats); i++) results.push(await trial(heapMb));
  const growth = results.map((r) => r.growth);
  return {
    name: 'capture',
    rows: [
      { metric: 'agent heap used', value: stat(results.map((r) => r.heap)), unit: 'MB', goal: `~${heapMb}`, 'goal met': '' },
      { metric: 'snapshot file', value: stat(results.map((r) => r.fileMb)), unit: 'MB', goal: '', 'goal met': '' },
      { metric: 'capture command wall time', value: stat(results.map((r) => r.seconds)), unit: 's', goal: '', 'goal met': '' },
      { metric: 'supervisor RSS growth (50 ms samples, peak − before)', value: stat(growth), unit: 'MB', goal: '< 32', 'goal met': goalMet(growth, (v) => v < 32) },
      { metric: 'supervisor VmHWM after − RSS before', value: stat(results.map((r) => r.hwmGrowth)), unit: 'MB', goal: '< 32', 'goal met': goalMet(results.map((r) => r.hwmGrowth), (v) => v < 32) },
    ],
    notes: `${results.length} trial(s): benchmarks/agents/grow.cjs holding ~${heapMb} MB of small objects under cfn-supervise with defaults; \`cfn-supervise capture --snapshot\` through the control socket.`,
  };
}
