// What the supervisor keeps on disk keeps no secrets and no leftovers: fatal-error reports lose the values of
// their environment, and a capture's summary goes with its capture.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureName, enforceRetention } from '../../src/supervisor/journal/captures.js';
import { collectReports, pruneReports } from '../../src/supervisor/journal/reports.js';
import { fixture, killQuietly, runCli, startCli, tempDir, untilProcess, waitFor } from '../helpers/cli.js';
import { runNode } from './helpers.js';


const SECRET = 'hunter2-do-not-keep';

describe('kept fatal-error reports', () => {
  it('hold the names of the environment but none of its values, and a redacted command line, 0600', async () => {
    const reports = path.join(tempDir('cfn-reports-'), 'reports');
    mkdirSync(reports, { mode: 0o700 });
    // A real report of a real process, written with the agent's umask, secrets in its environment and argv.
    const agent = runNode('process.report.writeReport()', ['--api-key', SECRET], {
      ...process.env,
      AGENT_TOKEN: SECRET,
      ZZ_PLAIN: 'plain value',
      NODE_OPTIONS: `--report-directory=${reports}`,
    });
    agent.child.stdin!.end();
    expect(await agent.exited).toBe(0);
    const [name] = readdirSync(reports);
    const file = path.join(reports, name!);
    expect(readFileSync(file, 'utf8')).toContain(SECRET);

    const found = collectReports(reports, 0);
    // What node printed, as the report tells it: the run record's last stderr lines where stderr was a terminal.
    expect(found).toEqual([{ file, pid: agent.child.pid, event: 'JavaScript API', oom: false, stderr: expect.arrayContaining(['FATAL ERROR: JavaScript API']) }]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('plain value');
    const report = JSON.parse(text) as { environmentVariables: string[]; header: { commandLine: string[] } };
    expect(report.environmentVariables).toEqual(expect.arrayContaining(['AGENT_TOKEN', 'ZZ_PLAIN', 'NODE_OPTIONS']));
    expect(report.environmentVariables).toEqual([...report.environmentVariables].sort());
    expect(report.header.commandLine.slice(-2)).toEqual(['--api-key', '***']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(reports)).toEqual([name]);
  });

  it('are never followed through a symlink planted among them', () => {
    const base = tempDir('cfn-reports-');
    const reports = path.join(base, 'reports');
    mkdirSync(reports, { mode: 0o700 });
    const elsewhere = path.join(base, 'elsewhere.json');
    const original = `${JSON.stringify({ header: { event: 'Allocation failed - JavaScript heap out of memory', processId: 7 }, environmentVariables: { KEEP: 'me' } })}\n`;
    writeFileSync(elsewhere, original, { mode: 0o644 });
    symlinkSync(elsewhere, path.join(reports, 'report.20250101.000000.7.0.001.json'));
    expect(collectReports(reports, 0)).toEqual([]);
    expect(readFileSync(elsewhere, 'utf8')).toBe(original);
    expect(statSync(elsewhere).mode & 0o777).toBe(0o644);
  });

  it('are pruned to the newest, with any copy a stripping that died left behind', () => {
    const reports = tempDir('cfn-reports-');
    const names = [1, 2, 3].map((i) => `report.20250101.00000${i}.${i}.0.001.json`);
    names.forEach((n, i) => {
      writeFileSync(path.join(reports, n), '{}');
      utimesSync(path.join(reports, n), new Date(1000 * i), new Date(1000 * i));
    });
    writeFileSync(path.join(reports, `.${names[0]}.0a1b2c.tmp`), '{');
    pruneReports(reports, 2);
    expect(readdirSync(reports).sort()).toEqual([names[1], names[2]]);
  });
});

describe('capture retention', () => {
  it('removes a summary with its capture, and a summary whose capture is gone', async () => {
    const dir = tempDir('cfn-retention-');
    const names = [1, 2, 3].map((i) => captureName(i, 'alert', 'heapprofile', new Date(Date.UTC(2025, 0, 1, 0, 0, i))));
    for (const n of names) {
      writeFileSync(path.join(dir, n), 'x'.repeat(100));
      writeFileSync(path.join(dir, `${n}.summary.json`), '{}');
    }
    const orphan = `${captureName(9, 'manual', 'heapsnapshot', new Date(Date.UTC(2024, 0, 1)))}.summary.json`;
    writeFileSync(path.join(dir, orphan), '{}');

    const removed = await enforceRetention(dir, { maxFiles: 2, maxBytes: 10_000 });
    expect(readdirSync(dir).sort()).toEqual([names[1]!, `${names[1]}.summary.json`, names[2]!, `${names[2]}.summary.json`].sort());
    expect(removed.map((f) => path.basename(f)).sort()).toEqual([names[0]!, `${names[0]}.summary.json`, orphan].sort());
    expect(existsSync(path.join(dir, `${names[2]}.summary.json`))).toBe(true);
  });
});

describe('partial captures a lost supervisor left', () => {
  it('kill -9 during a snapshot: the next supervisor removes the partial file at its start', async () => {
    const cwd = tempDir('cfn-partial-');
    const stateDir = path.join(cwd, 'state');
    const captures = path.join(stateDir, 'captures');
    const args = ['--state-dir', stateDir, '--min-free', '0', '--', process.execPath, fixture('probe/bigheap.cjs'), '80'];
    const first = startCli(args, { cwd });
    await waitFor(() => /ready/.test(first.stdout().toString()), 30_000, 'the agent to hold its heap');
    // The agent is started before the control socket, and its line can come first: asked for a snapshot then,
    // `capture` would find no supervisor.
    await untilProcess(stateDir, (p) => p.role === 'agent' && p.heap_used_mb !== undefined, 30_000, 'the agent probed');
    const snapshot = startCli(['capture', '--snapshot', '--state-dir', stateDir], { cwd });
    // The temporary file is there from the snapshot's first moment; its first bytes come only once V8 has built
    // the whole snapshot, which under load can take longer than any deadline here.
    const partial = await waitFor(
      () => (existsSync(captures) ? readdirSync(captures).find((n) => n.endsWith('.tmp')) : undefined),
      30_000,
      'the snapshot to be under way',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; capture said: ${snapshot.stderr().toString().trim() || '(nothing)'}, exit ${snapshot.child.exitCode}`);
    });
    killQuietly(first.child.pid);
    await first.exited;
    await snapshot.exited;
    expect(readdirSync(captures)).toContain(partial);

    const second = startCli(args, { cwd });
    await waitFor(() => !readdirSync(captures).includes(partial), 30_000, 'the partial file to be removed');
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('cleanup without a supervisor removes our partial files, and nothing else', async () => {
    const cwd = tempDir('cfn-partial-cleanup-');
    const stateDir = path.join(cwd, 'state');
    const captures = path.join(stateDir, 'captures');
    mkdirSync(captures, { recursive: true, mode: 0o700 });
    const ours = `.${captureName(12, 'manual', 'heapsnapshot')}.0a1b2c3d4e5f.tmp`;
    writeFileSync(path.join(captures, ours), 'half a snapshot');
    // Not ours to remove: another program's temporary file, a folder and a symlink under our name pattern.
    const other = '.notes.txt.tmp';
    writeFileSync(path.join(captures, other), 'keep');
    const folder = `.${captureName(13, 'manual', 'heapsnapshot')}.aaaaaaaaaaaa.tmp`;
    mkdirSync(path.join(captures, folder));
    const link = `.${captureName(14, 'manual', 'heapsnapshot')}.bbbbbbbbbbbb.tmp`;
    symlinkSync(path.join(cwd, 'elsewhere'), path.join(captures, link));
    const r = await runCli(['cleanup', '--state-dir', stateDir], { cwd });
    expect(r.code).toBe(0);
    expect(readdirSync(captures).sort()).toEqual([other, folder, link].sort());
  });
});
