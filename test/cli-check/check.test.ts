// `check` with the machine's real memory and load, with no supervisor and with a real one whose tree is at
// critical: exit 0 when safe, 1 with one line saying why not, 2 with one line for a bad value.
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemMemory } from '../../src/platform/sysmem.js';
import { fixture, tempDir } from '../helpers/cli.js';
import { runCommand, startSupervisor, untilWatched } from '../diagnostics/harness.js';

/** A state dir in which no supervisor runs (it does not even exist). */
const noSupervisor = () => path.join(tempDir('cfn-check-'), 'state');

const check = (opts: Record<string, unknown>) => runCommand('check', 'checkCommand', [opts]);

interface CheckJson {
  ok: boolean;
  checks: { name: string; verdict: string; value?: number | string; limit?: number | string; detail: string }[];
}

describe('check', () => {
  it('passes with --min-free 0 and no supervisor, saying what it found', async () => {
    const stateDir = noSupervisor();
    const r = await check({ minFreeMb: 0, stateDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^safe to start: \\d+ MB available \\(need 0\\), load [\\d.]+ per core \\(no --max-load\\), no supervisor in ${stateDir}\\n$`));
  });

  it('fails with one line when more memory is asked for than is available', async () => {
    // All of the machine's memory: never available (the kernel holds some), however much other processes free
    // between this reading and the command's (available + 512 MB was, on a machine shared with other tests).
    const want = systemMemory().total_mb;
    const r = await check({ minFreeMb: String(want), stateDir: noSupervisor() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^cfn-supervise check: not safe to start: only \\d+ MB available, need at least ${want} MB \\(--min-free\\)\\n$`));
  });

  it('--json lists every check with its value, limit and verdict', async () => {
    const r = await check({ minFreeMb: '1GB', maxLoad: 1000, json: true, stateDir: noSupervisor() });
    const out = JSON.parse(r.stdout) as CheckJson;
    const available = systemMemory().available_mb;
    expect(r.code).toBe(available >= 1024 ? 0 : 1);
    expect(out.ok).toBe(r.code === 0);
    const [memory, load, sup] = out.checks;
    expect(memory).toMatchObject({ name: 'memory', limit: 1024, verdict: available >= 1024 ? 'ok' : 'fail' });
    expect(Math.abs((memory!.value as number) - available)).toBeLessThan(512);
    expect(load).toMatchObject({ name: 'load', limit: 1000, verdict: 'ok' });
    expect(load!.value).toBeGreaterThanOrEqual(0);
    expect(sup).toMatchObject({ name: 'supervisor', verdict: 'skip' });
  });

  // An idle machine has no load to exceed; a machine running this suite always has some.
  it.skipIf(loadavg()[0]! / availableParallelism() < 0.02)('fails when the load per core is above --max-load', async () => {
    const r = await check({ minFreeMb: 0, maxLoad: '0.001', stateDir: noSupervisor() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cfn-supervise check: not safe to start: load [\d.]+ per core over \d+ cores is above --max-load 0\.001\n$/);
  });

  it.each([
    [{ minFreeMb: 'lots' }, "--min-free: expected megabytes like 512 or 2GB, got 'lots'"],
    [{ minFreeMb: -5 }, "--min-free: expected megabytes like 512 or 2GB, got '-5'"],
    [{ minFreeMb: 100_000_000 }, "--min-free (100000000 MB) is above this machine's total memory"],
    [{ maxLoad: '0' }, "--max-load: expected a load average per core above 0 like 1.5, got '0'"],
    [{ maxLoad: 'high' }, "--max-load: expected a load average per core above 0 like 1.5, got 'high'"],
  ])('exits 2 with one line for %j', async (opts, message) => {
    const r = await check({ ...opts, stateDir: noSupervisor() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`cfn-supervise check: ${message}`)).toBe(true);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('fails while a supervisor in the state dir has its tree at critical, and passes when it is below', async () => {
    // Every node process is over a 1 MB critical line at once; the hard line stays far away.
    const s = startSupervisor(['--warning', '1', '--critical', '2', '--hard', '1000000'], [process.execPath, fixture('watch/slow-leak.cjs')]);
    await untilWatched(s);
    await expect.poll(async () => (await s.client.request<{ tree: { level: string } }>('GET', '/status')).tree.level, { timeout: 20_000 }).toBe('critical');
    const r = await check({ minFreeMb: 0, stateDir: s.stateDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^cfn-supervise check: not safe to start: the supervised tree in ${s.stateDir} is at critical \\(RSS \\d+ MB\\)\\n$`));

    // Levels go down only after --clear-after: none here, so the drop is seen at once.
    await s.client.request('PATCH', '/config', { body: { warning: 100_000, critical: 200_000, hard: 1_000_000, 'clear-after': 0 } });
    await expect.poll(async () => (await s.client.request<{ tree: { level: string } }>('GET', '/status')).tree.level, { timeout: 20_000 }).not.toBe('critical');
    const calm = await check({ minFreeMb: 0, json: true, stateDir: s.stateDir });
    expect(calm.code, calm.stderr).toBe(0);
    expect((JSON.parse(calm.stdout) as CheckJson).checks[2]).toMatchObject({ name: 'supervisor', verdict: 'ok', limit: 'critical' });
  });
});
