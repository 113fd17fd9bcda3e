// Issue 25, item 5: a heap see-sawing across the warning line raises one warning, and the alert channels get
// one message, however often it crosses (the policy's hold is unit-tested in test/unit/policy.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, readJsonl, startCli, tempDir, waitFor } from './helpers/cli.js';

describe('no flapping', () => {
  it('a heap see-sawing across the warning line gives one warning and one channel message', async () => {
    const cwd = tempDir();
    const sent = path.join(cwd, 'sent.jsonl');
    const s = startCli(
      ['--min-free', '0', '--heap-limit', '128', '--heap-warning', '0.7', '--heap-critical', '0.9', '--interval', '100', '--restart', 'never',
        '--alert-exec', `cat >> ${sent}; echo >> ${sent}`, '--', 'node', fixture('watch/seesaw.cjs')],
      { cwd },
    );
    const alerts = path.join(cwd, '.cfn-supervise', 'alerts.jsonl');
    const warnings = () => (existsSync(alerts) ? readJsonl(alerts).filter((a) => a.metric === 'heap' && a.level === 'warning') : []);
    await waitFor(() => warnings().length > 0, 30_000, 'the first heap warning');
    const lowsAtWarning = s.stdout().toString().split('\n').filter((l) => l === 'low').length;
    // Four more times down under the line and back up over it.
    await waitFor(() => s.stdout().toString().split('\n').filter((l) => l === 'low').length >= lowsAtWarning + 4, 30_000, 'four more see-saws');
    s.child.kill('SIGTERM');
    await s.exited;
    expect(warnings()).toHaveLength(1);
    const messages = readFileSync(sent, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { metric: string; level: string });
    expect(messages.filter((m) => m.metric === 'heap')).toEqual([expect.objectContaining({ level: 'warning' })]);
  }, 90_000);
});
