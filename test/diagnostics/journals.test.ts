// What diagnostics reads of a state dir without a supervisor's help: the newest alerts from the end of the
// journal (across a rotation, past a torn last line, never a compressed file) and the newest capture summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lastAlerts, lastCapture } from '../../src/cli/diagnostics.js';
import { tempDir } from '../helpers/cli.js';

function stateDir(files: Record<string, string | Buffer>): string {
  const dir = tempDir('cfn-diagnostics-journals-');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const line = (message: string, i = 0) => `${JSON.stringify({ ts: new Date(Date.UTC(2026, 10, 30, 12, 0, i)).toISOString(), level: 'warning', metric: 'rss', pid: 7, message })}\n`;
const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => line(`${prefix}${i}`, i)).join('');

describe('lastAlerts', () => {
  it('takes the newest ten, oldest first, from the live file and then the rotated one before it', async () => {
    const dir = stateDir({
      'alerts.jsonl.20261130-100000.000': lines('a', 8),
      'alerts.jsonl': `${lines('b', 3)}{"ts":"2026-11-30T12:00:09.000Z","lev`,
    });
    const alerts = await lastAlerts(dir, 10);
    expect(alerts.map((a) => a.message)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'b0', 'b1', 'b2']);
    expect(alerts[0]).toEqual({ ts: '2026-11-30T12:00:01.000Z', level: 'warning', metric: 'rss', pid: 7, message: 'a1' });
  });

  it('reads only the end of a large journal', async () => {
    const dir = stateDir({ 'alerts.jsonl': lines('x', 100_000) });
    const alerts = await lastAlerts(dir, 3);
    expect(alerts.map((a) => a.message)).toEqual(['x99997', 'x99998', 'x99999']);
  });

  it('skips a compressed rotated file and has nothing to say of a state dir without alerts', async () => {
    const dir = stateDir({ 'alerts.jsonl.20261130-100000.000.gz': gzipSync(lines('z', 5)), 'alerts.jsonl': lines('b', 2) });
    expect((await lastAlerts(dir, 10)).map((a) => a.message)).toEqual(['b0', 'b1']);
    expect(await lastAlerts(stateDir({}), 10)).toEqual([]);
  });
});

const summary = (functionName: string) =>
  JSON.stringify({
    kind: 'heapprofile',
    file: `/captures/${functionName}.heapprofile`,
    totalBytes: 4096,
    sampleCount: 4,
    sites: [{ functionName, url: 'file:///app/agent.js', line: 3, column: 5, bytes: 4096, share: 1 }],
    functions: [],
    files: [],
  });

describe('lastCapture', () => {
  it('takes the newest readable profile summary, passing over a broken one and snapshot summaries', async () => {
    const dir = stateDir({
      'captures/2026-11-30T10-00-00.000Z-7-alert.heapprofile.summary.json': summary('older'),
      'captures/2026-11-30T11-00-00.000Z-7-alert.heapprofile.summary.json': summary('newer'),
      'captures/2026-11-30T12-00-00.000Z-7-alert.heapprofile.summary.json': '{"kind":"heapprofile","sit',
      'captures/2026-11-30T13-00-00.000Z-7-manual.heapsnapshot.summary.json': '{"kind":"heapsnapshot"}',
    });
    const found = await lastCapture(path.join(dir, 'captures'));
    expect(found?.summary.sites[0]?.functionName).toBe('newer');
    expect(found?.summary_file).toBe(path.join(dir, 'captures/2026-11-30T11-00-00.000Z-7-alert.heapprofile.summary.json'));
    expect(await lastCapture(path.join(dir, 'missing'))).toBeUndefined();
  });
});
