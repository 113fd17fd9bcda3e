// The control socket's handlers, built from the supervisor's parts: views from the watcher's last tick (a status
// request never touches the agent), and every action through the same executor the policy uses.
import { statSync } from 'node:fs';
import { Refused } from '../../common/errors.js';
import { configByName, type Config } from '../../config/config.js';
import type { Executor } from '../act/executor.js';
import type { CaptureProgress, CaptureRequest, CaptureResult, ControlHandlers, Instrumented, StatusView } from '../control/protocol.js';
import { agentView, liveTick, processViews, treeView } from '../control/views.js';
import type { Level } from '../watch/policy.js';
import { initialPolicyState, thresholdsOnly } from '../watch/policy.js';
import type { ProcessRecordView, Sampler } from '../watch/sampler.js';
import type { Runner } from './runner.js';
import type { Watcher } from './watcher.js';

export interface AdapterDeps {
  runner: Runner;
  watcher?: Watcher;
  sampler?: Sampler;
  executor: Executor;
  /** Node processes with a live session. */
  nodePids: () => number[];
  /** How the supervisor sees into a process: its probe, its inspector port on demand, or /proc alone. */
  instrumentation: (pid: number) => Instrumented;
  /** The inspector a process opened (its own, or --inspect's). */
  inspectorUrl: (pid: number) => string | undefined;
  stateDir: string;
  version: string;
  startedAt: number;
  alertCounts: Record<Level, number>;
  config: () => Config;
  update: (patch: Record<string, unknown>) => Config;
}

// The launchers npx and npm run the real agent as a child; capturing them by default captures npm itself.
const LAUNCHER = /^node:(npm|npx)(-cli)?(\.js)?$/;

/** The process a capture without --pid means: the largest heap, launchers last. */
export function defaultCaptureTarget(processes: readonly ProcessRecordView[], nodePids: readonly number[]): ProcessRecordView | undefined {
  const candidates = processes.filter((p) => nodePids.includes(p.pid));
  const score = (p: ProcessRecordView) => (LAUNCHER.test(p.role) ? -1 : 0) * 1e15 + (p.heapUsed ?? p.rssBytes);
  return candidates.sort((a, b) => score(b) - score(a))[0];
}

/** What Chrome opens for an inspector's ws:// URL (paste it in the address bar; VS Code attaches to the port). */
export const devtoolsUrl = (ws: string) => `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${ws.replace(/^ws:\/\//, '')}`;

export function controlHandlers(deps: AdapterDeps): ControlHandlers {
  const { runner, watcher, executor } = deps;
  const tick = () => liveTick(runner.phase, watcher?.lastTick);
  const processes = () => tick()?.processes ?? [];
  const roleOf = (pid: number) => processes().find((p) => p.pid === pid)?.role;
  const currentRun = () => {
    const run = runner.run;
    if (!run || run.ending || runner.stopping) throw new Refused('no agent run right now');
    return run;
  };

  const status = (): StatusView => {
    const run = runner.run;
    const now = Date.now();
    return {
      supervisor: {
        pid: process.pid,
        version: deps.version,
        started_at: new Date(deps.startedAt).toISOString(),
        uptime_s: Math.round((now - deps.startedAt) / 1000),
        state_dir: deps.stateDir,
        interval_ms: deps.config().intervalMs,
        ...(watcher?.failing ? { watch_failing: watcher.failing } : {}),
      },
      agent: agentView(runner.phase, runner.restarts, run, runner.restartAt, now),
      tree: watcher ? treeView(tick(), watcher.policyState) : treeView(undefined, initialPolicyState),
      levels: { ...deps.alertCounts },
      thresholds: thresholdsOnly(watcher?.thresholds ?? deps.config()),
    };
  };

  const capture = async (req: CaptureRequest, progress: (p: CaptureProgress) => void, cancelled?: AbortSignal): Promise<CaptureResult> => {
    const run = currentRun();
    const pid = req.pid ?? defaultCaptureTarget(processes(), deps.nodePids())?.pid;
    if (pid === undefined) throw new Refused('no node process with a session to capture', 404);
    const window =
      req.seconds === undefined
        ? undefined
        : { seconds: req.seconds, onSecond: (done: number) => progress({ phase: 'sampling', done, total: req.seconds }), ...(cancelled ? { cancelled } : {}) };
    const r = await executor.capture(run, pid, 'manual', req.kind, true, {
      onProgress: (done, total) => progress({ phase: 'writing', done, ...(total ? { total } : {}) }),
      ...(window ? { window } : {}),
      ...(req.thread ? { thread: req.thread } : {}),
    });
    const role = roleOf(pid);
    return { file: r.file, pid, ...(req.thread ? { thread: req.thread } : {}), kind: req.kind, bytes: statSync(r.file).size, ...(role ? { role } : {}) };
  };

  return {
    status,
    processes: () =>
      watcher && deps.sampler
        ? processViews(tick(), watcher.policyState, (pid) => deps.sampler!.history(pid), (pid, thread) => deps.sampler!.heapHistory(pid, thread), watcher.thresholds).map((v) => {
            const url = deps.inspectorUrl(v.pid);
            return { ...v, ...deps.instrumentation(v.pid), ...(url ? { devtools_url: devtoolsUrl(url) } : {}) };
          })
        : [],
    capture,
    gc: async ({ pid }) => {
      const run = currentRun();
      const pids = pid === undefined ? deps.nodePids() : [pid];
      const results = await Promise.all(pids.map((p) => executor.gc(run, p, 'manual', true)));
      return { results: results.map((r) => ({ pid: r.pid, role: roleOf(r.pid), before_bytes: r.beforeBytes, after_bytes: r.afterBytes })) };
    },
    cleanup: async () => {
      const r = await executor.cleanup(currentRun(), 'manual', true);
      return { summary: `collected garbage in ${r.gc.length} node processes, notified ${r.notified} probes`, ...r };
    },
    restart: async () => {
      const run = currentRun();
      await executor.execute(run, { kind: 'restart', reason: 'requested on the control socket' }, true);
      return { run_id: run.id };
    },
    // Liveness: the supervisor works and its agent runs (a restart's backoff counts as alive), and the watch is not
    // stuck (its last tick is recent) nor failing (its last ticks went through).
    health: () => {
      const phase = runner.phase;
      const tickAgeMs = watcher?.lastTick ? Date.now() - watcher.lastTick.at : undefined;
      const stale = watcher !== undefined && phase === 'running' && tickAgeMs !== undefined && tickAgeMs > 3 * deps.config().intervalMs + 5000;
      const failing = phase === 'running' ? watcher?.failing : undefined;
      const alive = phase === 'running' || phase === 'backoff' || phase === 'preflight';
      const reason = failing ?? (stale ? `the last tick was ${tickAgeMs} ms ago` : alive ? undefined : `the agent is ${phase}`);
      return { ok: reason === undefined, phase, ...(tickAgeMs === undefined ? {} : { tick_age_ms: tickAgeMs }), ...(reason ? { reason } : {}) };
    },
    // Readiness: the agent runs and, where probes are on, at least one of its node processes registered.
    ready: () => {
      const running = runner.phase === 'running';
      const registered = deps.nodePids().length;
      const needsProbe = deps.config().probe && deps.config().watch;
      return { ok: running && (!needsProbe || registered > 0), phase: runner.phase, registered };
    },
    getConfig: () => configByName(deps.config()),
    patchConfig: (patch) => configByName(deps.update(patch)),
  };
}
