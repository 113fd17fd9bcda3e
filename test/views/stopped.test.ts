// A stopped supervisor (Ctrl-Z, SIGSTOP) still accepts connections (the kernel queues them) but answers none:
// every client subcommand must say so within a few seconds, with its own exit code, instead of hanging.
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/common/errors.js';
import { cleanup, fixture, killQuietly, startCli } from '../helpers/cli.js';
import { startSupervised, type Supervised } from './supervised.js';

/** Long enough for a loaded machine to start node twice; far below the 60 s a client used to wait. */
const PROMPT_MS = 12_000;

let s: Supervised | undefined;
afterEach(async () => {
  killQuietly(s?.supervisor.child.pid, 'SIGCONT');
  await cleanup('test');
});

async function timed(args: string[]) {
  const started = startCli([...args, '--state-dir', s!.stateDir], { cwd: s!.base });
  const t0 = Date.now();
  const timer = setTimeout(() => killQuietly(started.child.pid), PROMPT_MS + 5000);
  const { code } = await started.exited;
  clearTimeout(timer);
  return { args: args.join(' '), code, ms: Date.now() - t0, stderr: started.stderr().toString() };
}

describe('a stopped supervisor', () => {
  it('gets a prompt one-line answer from every client subcommand', async () => {
    s = await startSupervised([fixture('control/agent.cjs')]);
    const pid = s.supervisor.child.pid!;
    process.kill(pid, 'SIGSTOP');
    const commands = [['status'], ['status', '--json'], ['diagnostics'], ['diagnostics', '--json'], ['config', '--live'], ['gc'], ['capture'], ['capture', '--seconds', '30'], ['cleanup'], ['restart']];
    // Two at a time: each waits mostly, and the whole list stays well within the test's time.
    const results = [];
    for (let i = 0; i < commands.length; i += 2) results.push(...(await Promise.all(commands.slice(i, i + 2).map(timed))));
    for (const r of results) {
      expect({ args: r.args, code: r.code, stderr: r.stderr }).toEqual({
        args: r.args,
        code: EXIT.unresponsive,
        stderr: `cfn-supervise: the supervisor (pid ${pid}) is stopped (Ctrl-Z or SIGSTOP); \`fg\` in its terminal or \`kill -CONT ${pid}\` resumes it\n`,
      });
      expect(r.ms, r.args).toBeLessThan(PROMPT_MS);
    }
    process.kill(pid, 'SIGCONT');
    const after = await s.cli(['status']);
    expect(after.code).toBe(0);
  }, 120_000);
});
