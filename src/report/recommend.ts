// Thresholds from what was observed: each recommendation is a flag, its value and the evidence it came from.
import { type Percentiles } from './stats.js';

export interface Recommendation {
  readonly flag: string;
  readonly valueMb: number;
  readonly evidence: string;
}

export interface Recommendations {
  readonly items: Recommendation[];
  /** The items as command-line flags, ready to paste. */
  readonly flags: string;
  /** The items as a `--config` file (YAML; keys are the flags without dashes). */
  readonly config: string;
  readonly notes: string[];
}

export interface Observed {
  /** Records in processes.jsonl, whatever their runs' endings. */
  readonly processRecords: number;
  /** Peak RSS per process, of runs that memory did not end. */
  readonly processRss: Percentiles | null;
  /** Peak heap used per process, of the same runs. */
  readonly processHeap: Percentiles | null;
  /** Whole-tree peak RSS per run, of the same runs. */
  readonly treeRss: Percentiles | null;
  /** The largest heap limit the processes ran with. */
  readonly heapLimitMb?: number;
  readonly runs: number;
  /** Runs that ended in an OOM or a memory-rule kill, left out of the percentiles. */
  readonly memoryEndedRuns: number;
  /** Roles flagged as leaking across runs: their peaks will outgrow any threshold taken from them. */
  readonly leakingRoles: readonly string[];
}

/** Fewer observations than this give no recommendation; percentiles of so few are noise. */
const MIN_OBSERVATIONS = 5;
/** The headroom above the observed percentile. */
const HEADROOM = 0.25;
/** The hard limit's margin above the largest peak ever seen. */
const HARD_MARGIN = 0.5;
/** The heap limit keeps the largest peak heap below this fraction of it: the default `--heap-warning`. */
const HEAP_WARNING_FRACTION = 0.7;

const STEP_MB = 8;
const roundUp = (mb: number, step = STEP_MB): number => Math.max(step, Math.ceil(mb / step) * step);
const withHeadroom = (mb: number): number => roundUp(mb * (1 + HEADROOM));
const pct = (x: number): string => `${Math.round(x * 100)} %`;

/** Warning, critical and hard for one rule, rising: each at least a step above the one before. */
function levels(prefix: '' | 'tree-', p: Percentiles, what: string): Recommendation[] {
  const basis = `${what}: p95 ${p.p95} MB, p99 ${p.p99} MB, max ${p.max} MB over ${p.n}`;
  const warning = withHeadroom(p.p95);
  const critical = Math.max(withHeadroom(p.p99), warning + STEP_MB);
  const hard = Math.max(roundUp(p.max * (1 + HARD_MARGIN)), critical + STEP_MB);
  return [
    { flag: `--${prefix}warning`, valueMb: warning, evidence: `${basis}; p95 + ${pct(HEADROOM)}` },
    { flag: `--${prefix}critical`, valueMb: critical, evidence: `p99 + ${pct(HEADROOM)}` },
    { flag: `--${prefix}hard`, valueMb: hard, evidence: `max + ${pct(HARD_MARGIN)}` },
  ];
}

function heapLimit(p: Percentiles, limit: number | undefined): Recommendation {
  const value = roundUp(p.max / HEAP_WARNING_FRACTION, 16);
  const current = limit !== undefined ? `; they ran with ${limit} MB` : '';
  return {
    flag: '--heap-limit',
    valueMb: value,
    evidence: `peak heap used per process: p99 ${p.p99} MB, max ${p.max} MB over ${p.n}${current}; the largest peak stays below --heap-warning ${HEAP_WARNING_FRACTION} of it`,
  };
}

const enough = (p: Percentiles | null): p is Percentiles => p !== null && p.n >= MIN_OBSERVATIONS;
const tooFew = (what: string, p: Percentiles | null): string =>
  `too little data for ${what}: ${p?.n ?? 0} observed, ${MIN_OBSERVATIONS} needed`;

export function recommend(o: Observed): Recommendations {
  const items: Recommendation[] = [];
  const notes: string[] = [];
  if (o.memoryEndedRuns > 0) {
    notes.push(
      `${o.memoryEndedRuns} of ${o.runs} runs ended in an OOM or a memory-rule kill and are left out: their peaks are the limits, not the need; a limit raised over a leak only postpones it (see the culprits)`,
    );
  }
  if (o.leakingRoles.length > 0) {
    notes.push(`${o.leakingRoles.join(', ')} ${o.leakingRoles.length === 1 ? 'leaks' : 'leak'} across runs: thresholds from past peaks will be crossed as the peaks keep rising; fix the leak (see the culprits) rather than raise them`);
  }
  if (enough(o.processRss)) items.push(...levels('', o.processRss, 'peak RSS per process'));
  else if (o.processRecords === 0 && enough(o.treeRss)) {
    // No per-process records (a state dir from before processes.jsonl): the tree's peak bounds each process's.
    items.push(...levels('', o.treeRss, 'peak RSS of the whole tree per run (no processes.jsonl: an upper bound per process)'));
  } else notes.push(tooFew('--warning/--critical/--hard (peak RSS per process)', o.processRss ?? o.treeRss));
  if (enough(o.treeRss)) items.push(...levels('tree-', o.treeRss, 'peak RSS of the whole tree per run'));
  else notes.push(tooFew('--tree-warning/--tree-critical/--tree-hard (runs)', o.treeRss));
  if (enough(o.processHeap)) items.push(heapLimit(o.processHeap, o.heapLimitMb));
  else notes.push(tooFew('--heap-limit (peak heap per process)', o.processHeap));
  return {
    items,
    flags: items.map((r) => `${r.flag} ${r.valueMb}`).join(' '),
    config: items.map((r) => `${r.flag.slice(2)}: ${r.valueMb}`).join('\n'),
    notes,
  };
}
