// Evidence before OOM: a fast leak (~20 MB/s) runs to OOM under --heap-limit 256, again and again; a run
// counts when the supervisor saved, before the agent died, a heap profile whose top self-size frame is
// the leaking function. Runs go several at a time: contention for the 2 cores only makes it harder.
import { closeSharedAnalysisPool, analyzeFile } from '../dist/analysis/index.js';
import { agent, supervise } from './lib/cfn.mjs';
import { marker, withScope, within } from './lib/scope.mjs';
import { goalMet, stat } from './lib/stats.mjs';

export const selfRepeating = true;
export const quickBeside = true;

const OPTIONS = ['--heap-limit', '256', '--restart', 'never'];

/** The top allocation site of a saved profile, or null when it cannot be read. */
async function topFunction(file) {
  try {
    const summary = await analyzeFile(file);
    return summary.kind === 'heapprofile' ? (summary.sites[0]?.functionName ?? null) : null;
  } catch {
    return null;
  }
}

async function trial() {
  return withScope(async (scope) => {
    const sup = supervise(scope, OPTIONS, ['node', agent('grow.cjs'), marker('evidence'), '20']);
    await within(sup.exited, 90_000);
    const run = sup.runs()[0];
    const ended = run ? Date.parse(run.ts) : null;
    const written = sup.log().filter((l) => l.msg === 'capture written' && l.kind === 'profile');
    const named = [];
    for (const w of written) if ((await topFunction(w.file)) === 'leakFast' && Date.parse(w.ts) < ended) named.push(Date.parse(w.ts));
    return {
      oom: run?.exit?.reason === 'oom',
      seconds: run?.duration_seconds ?? null,
      captures: written.length,
      evidence: named.length > 0,
      leadMs: named.length ? ended - Math.max(...named) : null,
      firstLeadMs: named.length ? ended - Math.min(...named) : null,
    };
  });
}

export async function run({ quick }) {
  const total = quick ? 5 : 20;
  const parallel = quick ? 5 : 4;
  const results = [];
  try {
    for (let i = 0; i < total; i += parallel) {
      results.push(...(await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, trial))));
    }
  } finally {
    await closeSharedAnalysisPool();
  }
  const share = (results.filter((r) => r.evidence).length / total) * 100;
  return {
    name: 'evidence',
    rows: [
      { metric: 'runs with a profile naming leakFast saved before death', value: share, unit: `% of ${total}`, goal: '≥ 95', 'goal met': share >= 95 ? 'yes' : 'no' },
      { metric: 'runs that ended as oom', value: (results.filter((r) => r.oom).length / total) * 100, unit: `% of ${total}`, goal: '100', 'goal met': goalMet(results.map((r) => (r.oom ? 1 : 0)), (v) => v === 1) },
      { metric: 'newest naming profile → death', value: stat(results.map((r) => r.leadMs)), unit: 'ms', goal: '', 'goal met': '' },
      { metric: 'first naming profile → death', value: stat(results.map((r) => r.firstLeadMs)), unit: 'ms', goal: '', 'goal met': '' },
      { metric: 'profiles saved per run', value: stat(results.map((r) => r.captures)), unit: '', goal: '', 'goal met': '' },
      { metric: 'start → OOM', value: stat(results.map((r) => r.seconds)), unit: 's', goal: '', 'goal met': '' },
    ],
    notes:
      `${total} runs, ${parallel} at a time, of benchmarks/agents/grow.cjs leaking ~20 MB/s under cfn-supervise ${OPTIONS.join(' ')} (other options default). ` +
      "Evidence = a 'capture written' profile in supervisor.log, timestamped before the run's end in runs.jsonl, whose top allocation site (the project's analyzeFile) is leakFast.",
  };
}
