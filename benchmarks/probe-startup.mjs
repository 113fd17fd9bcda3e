// The probe's costs, measured on real processes: its synchronous preload cost, what it adds before the
// app's first immediate and in all (CPU, with the supervisor attached), to a process that never reaches its
// loop (`node -e 0`), how soon an idle process registers, how promptly a probed agent exits (with and without
// a session attached), what console logging retains while a session is attached, and the supervisor's RSS
// growth while it streams a snapshot. The console loop's speed is benchmarks/console.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapturesFolder } from '../dist/supervisor/journal/captures.js';
import { ProbeSessions } from '../dist/supervisor/probe-link/probe-sessions.js';
import { Registry } from '../dist/supervisor/probe-link/registry.js';
import { cleanEnv } from './lib/scope.mjs';
import { median } from './lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const probe = path.join(root, 'dist/probe/probe.cjs');
const fixtures = path.join(root, 'test/fixtures/probe');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** p90 − p10: how wide the bulk of the runs is. */
const spread = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.9)] - s[Math.floor(s.length * 0.1)];
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const row = (metric, xs, unit, goal) => ({ metric, value: round(median(xs)), unit, goal, median: round(median(xs)), spread: round(spread(xs)) });
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * The supervisor's side of the probe link, alone in this process, with the supervisor's defaults: every
 * registering process is attached; `whenAttached(pid)` resolves once it is; `probedEnv` starts a probed one.
 */
export async function probeLink(dir) {
  const registry = await Registry.listen(path.join(dir, 'registry.sock'));
  const sessions = new ProbeSessions({ registry, samplingInterval: 524288, pressure: 0.7, callTimeoutMs: 5000, captures: new CapturesFolder(path.join(dir, 'captures')), log: silent });
  const attached = new Map();
  const registeredAt = new Map();
  registry.on('register', (rec) => {
    registeredAt.set(rec.pid, performance.now());
    attached.set(rec.pid, sessions.attach(rec).catch(() => {}));
  });
  registry.on('exit', (pid) => attached.delete(pid));
  return {
    registry,
    sessions,
    registeredAt,
    probedEnv: { ...cleanEnv(), CFN_SUPERVISE_SOCKET: registry.socketPath, NODE_OPTIONS: `--require "${probe}"` },
    async whenAttached(pid) {
      while (!attached.has(pid)) await new Promise((resolve) => setTimeout(resolve, 5));
      await attached.get(pid);
    },
    async close() {
      await sessions.closeAll();
      await registry.close();
    },
  };
}

export async function run({ quick }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfn-bench-probe-'));
  const link = await probeLink(dir);
  const { registry, sessions, registeredAt, probedEnv, whenAttached } = link;
  const rows = [];
  try {
    const runs = quick ? 15 : 60;
    /** Fixtures that wait for a memory-pressure "go" start once a session is attached (sampling keeps one). */
    const startWithSession = async (child) => {
      await whenAttached(child.pid);
      await sessions.startSampling(child.pid);
      registry.send(child.pid, { type: 'memory-pressure', level: 'go' });
    };

    // Synchronous time spent loading the probe, bracketed by two marker preloads (their own cost cancels out).
    const t0 = path.join(dir, 'mark-start.cjs');
    const t1 = path.join(dir, 'mark-end.cjs');
    writeFileSync(t0, 'globalThis.__cfnT0 = process.hrtime.bigint();');
    writeFileSync(t1, "require('fs').writeSync(1, String(Number(process.hrtime.bigint() - globalThis.__cfnT0) / 1e6));");
    const bracket = (withProbe) => {
      const args = ['--require', t0, ...(withProbe ? ['--require', probe] : []), '--require', t1, '-e', '0'];
      const env = { ...cleanEnv(), CFN_SUPERVISE_SOCKET: registry.socketPath };
      return Number(spawnSync(process.execPath, args, { env, encoding: 'utf8' }).stdout);
    };
    const withP = [];
    const withoutP = [];
    for (let i = 0; i < runs; i++) {
      withP.push(bracket(true));
      withoutP.push(bracket(false));
    }
    const m0 = median(withoutP);
    rows.push(row('probe preload (synchronous) cost', withP.map((x) => x - m0), 'ms', '< 5'));

    // A process that never reaches its loop: the preload's connect completes, the probe sees nothing else
    // alive and closes instead of registering. Whole-process wall time, interleaved runs.
    const wall = (env) => {
      const t = performance.now();
      spawnSync(process.execPath, ['-e', '0'], { env });
      return performance.now() - t;
    };
    const exitProbed = [];
    const exitPlain = [];
    for (let i = 0; i < runs; i++) {
      exitProbed.push(wall(probedEnv));
      exitPlain.push(wall(cleanEnv()));
    }
    const exitBase = median(exitPlain);
    rows.push(row('`node -e 0` wall time, probed minus unprobed', exitProbed.map((x) => x - exitBase), 'ms', '< 5'));

    // The connect completion wakes a loop asleep in poll: an idle process registers at once.
    const idle = [];
    for (let i = 0; i < (quick ? 5 : 15); i++) {
      const started = performance.now();
      const child = spawn(process.execPath, [path.join(fixtures, 'idle.cjs')], { env: probedEnv, stdio: 'ignore' });
      while (!registeredAt.has(child.pid) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 2));
      idle.push(registeredAt.has(child.pid) ? registeredAt.get(child.pid) - started : Infinity);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rows.push(row('idle process (30 s timer): spawn to registration', idle, 'ms', 'registers'));

    // Everything the probe does before the app's first immediate runs: the preload's connect, and once the
    // supervisor answered, loading the rest of the probe and registering (no inspector session: none is
    // attached by default). CPU time is the cost; wall time also shows the machine's load. The CPU a probed
    // process has used 300 ms in, against an unprobed one, is the probe's whole cost.
    const measure = (env, code) => JSON.parse(spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' }).stdout);
    const report = "{ const c = process.cpuUsage(); require('fs').writeSync(1, JSON.stringify({ wall: performance.now(), cpu: (c.user + c.system) / 1000 })) }";
    // Most of the first-turn cost is loading `net`, which an app that writes to a pipe or TTY has loaded anyway.
    const scenarios = [
      ['first immediate', `setImmediate(() => ${report})`],
      ['first immediate of an app using process.stdout', `process.stdout; setImmediate(() => ${report})`],
      ['300 ms in, supervisor attached', `setTimeout(() => ${report}, 300)`],
    ];
    for (const [when, code] of scenarios) {
      const probed = [];
      const plain = [];
      for (let i = 0; i < runs; i++) {
        probed.push(measure(probedEnv, code));
        plain.push(measure(cleanEnv(), code));
      }
      const base = median(plain.map((t) => t.cpu));
      rows.push(row(`CPU used by the ${when}, probed minus unprobed`, probed.map((t) => t.cpu - base), 'ms', '< 5'));
      if (when === 'first immediate') {
        const wallBase = median(plain.map((t) => t.wall));
        rows.push(row(`wall time to the ${when}, probed minus unprobed`, probed.map((t) => t.wall - wallBase), 'ms', '< 5'));
      }
    }

    // Exit lag: from the fixture's last JS statement to the parent seeing the exit, session attached or not.
    const exitLag = async (mode) => {
      const child = spawn(process.execPath, [path.join(fixtures, 'finish.cjs'), 'natural', '300'], {
        env: mode === 'unprobed' ? cleanEnv() : probedEnv,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      if (mode === 'session') await whenAttached(child.pid).then(() => sessions.startSampling(child.pid)).catch(() => {});
      await new Promise((resolve) => child.once('exit', resolve));
      return epochMs() - Number(/end ([\d.]+)/.exec(out)[1]);
    };
    const lags = { probed: [], session: [], unprobed: [] };
    for (let i = 0; i < (quick ? 5 : 20); i++) for (const mode of Object.keys(lags)) lags[mode].push(await exitLag(mode));
    rows.push(row('exit lag, probed (no session)', lags.probed, 'ms', '< unprobed + 100'));
    rows.push(row('exit lag, probed with a session attached (sampling)', lags.session, 'ms', '< unprobed + 100'));
    rows.push(row('exit lag, unprobed', lags.unprobed, 'ms', 'reference'));

    const consoleHeap = async (mode) => {
      const args = ['--expose-gc', path.join(fixtures, 'console.cjs'), ...(mode === 'control' ? ['--own-session'] : [])];
      const child = spawn(process.execPath, args, { env: mode === 'probed' ? probedEnv : cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      if (mode === 'probed') await startWithSession(child);
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      await new Promise((resolve) => child.once('exit', resolve));
      return Number(/heap (\d+)/.exec(err)[1]) / 1024 / 1024;
    };
    rows.push(row('heap after GC, 300 console.log of 1 MB, unprobed', [await consoleHeap('unprobed')], 'MB', 'reference'));
    rows.push(row('heap after GC, 300 console.log of 1 MB, probed with a session attached', [await consoleHeap('probed')], 'MB', '≈ unprobed'));
    rows.push(row('heap after GC, 300 console.log of 1 MB, open inspector without discard', [await consoleHeap('control')], 'MB', 'the leak avoided'));

    if (!quick) {
      const driverDir = path.join(dir, 'driver');
      mkdirSync(driverDir, { mode: 0o700 });
      const driver = spawnSync(process.execPath, ['--expose-gc', path.join(fixtures, 'snapshot-driver.mjs'), driverDir, probe], { encoding: 'utf8', env: cleanEnv() });
      const out = JSON.parse(driver.stdout.trim());
      rows.push(row('supervisor RSS growth while streaming a snapshot of a 100 MB heap', [(out.peakRss - out.baselineRss) / 1024 / 1024], 'MB', '< 32'));
    }
  } finally {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'probe-startup', rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run({ quick: process.argv.includes('--quick') });
  console.table(result.rows);
}
