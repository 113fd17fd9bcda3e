// `cfn-supervise check [--min-free MB] [--max-load N] [--json]`: the preflight a pre-task hook runs before
// starting an agent, no supervisor needed. Safe to start (exit 0) unless the machine has too little memory
// available, is loaded above the limit, or a supervisor in the state dir reports its tree at critical or worse
// (exit 1, one line saying why). Bad values: exit 2, one line.
import { availableParallelism, loadavg } from 'node:os';
import { CfnError, EXIT, NoSupervisorError, UsageError, errorMessage } from '../common/errors.js';
import { parseMegabytes } from '../common/units.js';
import { boundedMemory, memoryBound } from '../platform/sysmem.js';
import type { StatusView } from '../supervisor/control/protocol.js';
import { rank } from '../supervisor/watch/policy.js';
import { ControlClient } from './client.js';

export interface CheckOptions {
  /** Megabytes, as a number or as the flag's text (`512`, `2GB`). Default 1024, as the seeds' preflight. */
  minFreeMb?: number | string;
  /** 1-minute load average per core; no limit when absent. */
  maxLoad?: number | string;
  json?: boolean;
  stateDir: string;
}

export interface Check {
  name: 'memory' | 'load' | 'supervisor';
  verdict: 'ok' | 'fail' | 'skip';
  value?: number | string;
  limit?: number | string;
  unit?: string;
  detail: string;
}

export const DEFAULT_MIN_FREE_MB = 1024;
/** A hook must not hang on a stuck supervisor: it is then simply not asked. */
const STATUS_TIMEOUT_MS = 2000;

/** Memory as the agent's tree has it: within its cgroup's limit where that is below the machine's. */
function memoryOfTree(): { mem: ReturnType<typeof boundedMemory>; where: string } {
  const bound = memoryBound();
  return { mem: boundedMemory(bound), where: bound ? `its cgroup's limit (${bound.source})` : "this machine's total memory" };
}

function minFreeOf(raw: number | string | undefined, totalMb: number, where: string): number {
  let mb: number;
  if (raw === undefined) mb = DEFAULT_MIN_FREE_MB;
  else if (typeof raw === 'string') {
    try {
      mb = parseMegabytes(raw);
    } catch (err) {
      throw new UsageError(`--min-free: ${errorMessage(err)}`);
    }
  } else mb = raw;
  if (!Number.isFinite(mb) || mb < 0) throw new UsageError(`--min-free: expected megabytes like 512 or 2GB, got '${raw}'`);
  if (mb > totalMb) throw new UsageError(`--min-free (${mb} MB) is above ${where} (${totalMb} MB): no task could ever start`);
  return mb;
}

function maxLoadOf(raw: number | string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--max-load: expected a load average per core above 0 like 1.5, got '${raw}'`);
  return n;
}

function memoryCheck(minFreeMb: number, available: number, bound: string | undefined): Check {
  const ok = available >= minFreeMb;
  const within = bound ? ` within ${bound}` : '';
  return {
    name: 'memory',
    verdict: ok ? 'ok' : 'fail',
    value: available,
    limit: minFreeMb,
    unit: 'MB',
    detail: ok ? `${available} MB available${within} (need ${minFreeMb})` : `only ${available} MB available${within}, need at least ${minFreeMb} MB (--min-free)`,
  };
}

function loadCheck(maxLoad: number | undefined): Check {
  const cores = availableParallelism();
  const perCore = Math.round((loadavg()[0]! / cores) * 100) / 100;
  const base = { name: 'load' as const, value: perCore, unit: 'per core' };
  if (maxLoad === undefined) return { ...base, verdict: 'skip', detail: `load ${perCore} per core (no --max-load)` };
  const ok = perCore <= maxLoad;
  return {
    ...base,
    verdict: ok ? 'ok' : 'fail',
    limit: maxLoad,
    detail: ok ? `load ${perCore} per core (max ${maxLoad})` : `load ${perCore} per core over ${cores} cores is above --max-load ${maxLoad}`,
  };
}

async function supervisorCheck(stateDir: string): Promise<Check> {
  let status: StatusView;
  try {
    status = await new ControlClient(stateDir).request<StatusView>('GET', '/status', { timeoutMs: STATUS_TIMEOUT_MS });
  } catch (err) {
    const detail = err instanceof NoSupervisorError ? `no supervisor in ${stateDir}` : `the supervisor in ${stateDir} did not answer (${errorMessage(err)})`;
    return { name: 'supervisor', verdict: 'skip', detail };
  }
  const { level, rss_mb: rss } = status.tree;
  const ok = rank(level) < rank('critical');
  return {
    name: 'supervisor',
    verdict: ok ? 'ok' : 'fail',
    value: level,
    limit: 'critical',
    detail: ok ? `supervised tree at ${level} (RSS ${Math.round(rss)} MB)` : `the supervised tree in ${stateDir} is at ${level} (RSS ${Math.round(rss)} MB)`,
  };
}

/** Runs the checks and prints the verdict (JSON with `json`). Returns the exit code: 0 safe, 1 not, 2 bad input. */
export async function checkCommand(opts: CheckOptions): Promise<number> {
  try {
    const { mem, where } = memoryOfTree();
    const minFree = minFreeOf(opts.minFreeMb, mem.total_mb, where);
    const maxLoad = maxLoadOf(opts.maxLoad);
    const checks = [memoryCheck(minFree, mem.available_mb, memoryBound()?.source), loadCheck(maxLoad), await supervisorCheck(opts.stateDir)];
    const failed = checks.filter((c) => c.verdict === 'fail');
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
    if (failed.length > 0) {
      process.stderr.write(`cfn-supervise check: not safe to start: ${failed.map((c) => c.detail).join('; ')}\n`);
      return EXIT.failure;
    }
    if (!opts.json) process.stdout.write(`safe to start: ${checks.map((c) => c.detail).join(', ')}\n`);
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`cfn-supervise check: ${errorMessage(err).split('\n')[0]}\n`);
    return err instanceof CfnError ? err.exitCode : EXIT.failure;
  }
}
