// A control server with a small in-test handler object, and raw HTTP requests against it. The handlers
// return fixed views and record what they were asked: this tests the server, the client and the CLI, not the
// supervisor's actions (those run end to end in e2e.test.ts).
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlHandlers, ProcessView, StatusView } from '../../src/supervisor/control/protocol.js';
import type { ProcessSample } from '../../src/supervisor/watch/policy.js';
import { HttpError, Refused, UsageError } from '../../src/common/errors.js';
import { resolveConfig } from '../../src/config/config.js';

export const silentLog = { info() {}, warn() {}, error() {}, debug() {} };

export const PROCESSES: ProcessView[] = [
  { pid: 4242, ppid: 1, role: 'agent', instrumented: 'probe', rss_mb: 120.5, heap_used_mb: 64, heap_limit_mb: 256, fds: 21, sockets: 3, level: 'ok', history: { rss_mb: [100, 104, 110, 115, 120.5] }, trend: { mb_per_min: 4.2, oom_in_min: 31, confidence: 0.8 } },
  { pid: 4243, ppid: 4242, role: 'node:worker.js', instrumented: 'inspector', rss_mb: 48, heap_used_mb: 12, heap_limit_mb: 256, level: 'warning', history: { rss_mb: [48, 48] } },
  { pid: 4244, ppid: 4242, role: 'sh', instrumented: 'rss-only', rss_mb: 1.4, level: 'ok', history: { rss_mb: [1.4] } },
];

const MB = 1048576;

/** The same processes as one sampler tick, for the metrics registry. */
export const TICK = {
  durationMs: 4,
  processes: PROCESSES.map((p): ProcessSample => ({
    pid: p.pid,
    ppid: p.ppid,
    role: p.role,
    isAgent: p.role === 'agent',
    rssBytes: p.rss_mb * MB,
    heapUsed: p.heap_used_mb === undefined ? undefined : p.heap_used_mb * MB,
    heapLimit: p.heap_limit_mb === undefined ? undefined : p.heap_limit_mb * MB,
    fds: p.fds,
    sockets: p.sockets,
  })),
};

export function testHandlers(stateDir: string) {
  const calls: { name: string; arg?: unknown }[] = [];
  let interval = 1000;
  const status = (): StatusView => ({
    supervisor: { pid: process.pid, version: '0.0.0-test', started_at: new Date(0).toISOString(), uptime_s: 3725, state_dir: stateDir, interval_ms: interval },
    agent: { phase: 'running', run_id: 'abcd-1', pid: 4242, started_at: new Date(0).toISOString(), restarts: 2 },
    tree: { processes: PROCESSES.length, rss_mb: 169.9, heap_used_mb: 76, level: 'warning' },
    levels: { warning: 1 },
    thresholds: resolveConfig({ flags: {}, env: {}, cwd: stateDir }).config,
  });
  const handlers: ControlHandlers = {
    status,
    processes: () => PROCESSES,
    async capture(req, progress) {
      calls.push({ name: 'capture', arg: req });
      if (req.pid === 999) throw new HttpError(404, 'no node process 999 in the agent tree');
      if (req.kind === 'snapshot') {
        for (let done = 0; done <= 4; done++) {
          progress({ phase: 'writing', done: done * 1048576, total: 4 * 1048576 });
          await sleep(20);
        }
      } else await sleep((req.seconds ?? 0.05) * 1000);
      return { file: `/captures/${req.kind}.${req.kind === 'snapshot' ? 'heapsnapshot' : 'heapprofile'}`, pid: req.pid ?? 4242, kind: req.kind };
    },
    async gc(req) {
      calls.push({ name: 'gc', arg: req });
      if (req.pid === 409) throw new Refused('gc of pid 409 is cooling down for 12 s');
      return { results: [{ pid: req.pid ?? 4242, role: 'agent', before_bytes: 100 * 1048576, after_bytes: 40 * 1048576 }] };
    },
    async cleanup() {
      calls.push({ name: 'cleanup' });
      return { summary: 'reaped 1 zombie, removed 2 captures', reaped: [77] };
    },
    async restart() {
      calls.push({ name: 'restart' });
      throw new Error('restart exploded');
    },
    getConfig: () => ({ interval }),
    patchConfig(patch) {
      calls.push({ name: 'patchConfig', arg: patch });
      for (const key of Object.keys(patch)) if (key !== 'interval') throw new UsageError(`unknown option '${key}'`);
      if (typeof patch.interval !== 'number' || patch.interval < 50) throw new UsageError('interval: expected at least 50 ms');
      interval = patch.interval;
      return { interval };
    },
  };
  return { handlers, calls };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

export type Target = { socketPath: string } | { port: number; host?: string };

export function send(target: Target, method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: target.host ?? '127.0.0.1', port: target.port };
    const req = request({ ...where, method, path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
