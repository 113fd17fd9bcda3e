// `diagnostics` against a real supervisor watching a slowly leaking agent: the page names the machine's memory,
// the agent's level and rising trend, the trend alert, the top site of a capture taken through the CLI, and
// says to capture and analyze; with no supervisor it fails as the CLI's exit 3.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProcessView } from '../../src/supervisor/control/protocol.js';
import { CLI, PORTABLE_BACKEND, execFileTracked, fixture, tempDir } from '../helpers/cli.js';
import { runCommand, startSupervisor, untilWatched } from './harness.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFileTracked(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

interface DiagnosticsJson {
  system_memory: { total_mb: number; available_mb: number };
  status: { agent: { phase: string; pid: number } };
  processes: ProcessView[];
  alerts: { level: string; metric?: string; message: string }[];
  capture: { file: string; top_sites: { site: string; share: number }[] } | null;
  next: string[];
}

describe('diagnostics', () => {
  it('reports memory, levels and trends, the last alerts and capture, and what to do next', async () => {
    // A short trend window, so the slow leak's trend is trusted within seconds; not shorter: a heap below the
    // warning fraction is read when its RSS moves, every second or two here, and the readings' trend wants 8 of
    // them in the window (at 4 s, it came and went and once never came in 75 s).
    const s = startSupervisor(['--trend-window', '12s'], [process.execPath, fixture('watch/slow-leak.cjs')]);
    const { agent } = await untilWatched(s);

    // Three seconds: at the default 512 KB sampling interval a second of this leak holds one to six samples, and
    // under load it has held none (an empty list of sites).
    const captured = await cli(['capture', '--pid', String(agent.pid), '--seconds', '3', '--state-dir', s.stateDir]);
    expect(captured.code, captured.stderr).toBe(0);
    const file = captured.stdout.trim();
    await expect.poll(() => existsSync(`${file}.summary.json`), { timeout: 30_000 }).toBe(true);
    // One reading with both the trend alert and a trend the policy trusts at that moment: with a short window the
    // trust can lapse for a tick after the alert (a GC, the capture's sampling), and come back.
    let d!: DiagnosticsJson;
    await expect
      .poll(
        async () => {
          const asJson = await runCommand('diagnostics', 'diagnosticsCommand', [s.stateDir, { json: true }]);
          expect(asJson.code, asJson.stderr).toBe(0);
          d = JSON.parse(asJson.stdout) as DiagnosticsJson;
          return d.alerts.some((a) => a.metric === 'trend') && d.processes.some((p) => p.pid === agent.pid && p.trend !== undefined);
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true)
      .catch((err: Error) => {
        // What the last page said of the trend, which the bare "expected false" does not.
        const trendAlerts = d?.alerts.filter((a) => a.metric === 'trend').map((a) => a.message);
        throw new Error(`${err.message}; trend alerts: ${JSON.stringify(trendAlerts)}; the agent: ${JSON.stringify(d?.processes.find((p) => p.pid === agent.pid))}`);
      });
    expect(d.system_memory.total_mb).toBeGreaterThan(0);
    expect(d.status.agent).toMatchObject({ phase: 'running', pid: agent.pid });
    const watched = d.processes.find((p) => p.pid === agent.pid)!;
    expect(watched.trend!.mb_per_min).toBeGreaterThan(0);
    expect(d.alerts.find((a) => a.metric === 'trend')).toMatchObject({ level: 'warning' });
    expect(d.capture!.file).toBe(file);
    expect(d.capture!.top_sites[0]!.site).toMatch(/^leakSlowly .*slow-leak\.cjs:\d+:\d+/);
    expect(d.next.some((n) => n.includes(`cfn-supervise capture --pid ${agent.pid} --seconds 30`) && n.includes('cfn-supervise analyze'))).toBe(true);
    expect(d.next.some((n) => n.includes('top allocation site is leakSlowly'))).toBe(true);

    const asText = await runCommand('diagnostics', 'diagnosticsCommand', [s.stateDir, {}]);
    expect(asText.code, asText.stderr).toBe(0);
    const page = asText.stdout;
    const sections = ['System memory', 'Processes', 'Last alerts (newest last)', "Last capture's top allocation sites", 'What to do next'];
    const at = sections.map((title) => page.indexOf(`\n${title}\n`));
    expect(at.every((i) => i > 0), page).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(page).toMatch(/^supervisor {2}pid \d+/);
    expect(page).toMatch(/total \d+ MB, available \d+ MB, used \d+ MB/);
    // ANON, the RSS split, is the linux backend's ('-' under the portable one).
    const anon = PORTABLE_BACKEND ? '-' : '[\\d.]+ MB';
    expect(page).toMatch(new RegExp(`\\n +${agent.pid} +agent +probe +\\d+ MB +${anon} +[\\d.]+ MB / 4096 MB +[\\d.]+ MB +warning`));
    expect(page).toMatch(/Z {2}warning {3}agent \(pid \d+\): heap grows [\d.]+ MB\/min/);
    expect(page).toContain(file);
    expect(page).toMatch(/\n {2}[\d.]+ [KM]iB [\d.]+% leakSlowly /);
    expect(page).toContain(`- pid ${agent.pid} (agent): `);
    expect(page).toContain(`cfn-supervise capture --pid ${agent.pid} --seconds 30`);
  });

  it('fails as the CLI says "no supervisor" (exit 3) when none runs in the state dir', async () => {
    const dir = tempDir('cfn-diagnostics-');
    const r = await runCommand('diagnostics', 'diagnosticsCommand', [dir, { json: true }]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`cfn-supervise: no supervisor is running in ${dir}\n`);
  });
});
