// The control subcommands: status, capture, gc, cleanup, restart and top. Each is one request to the running
// supervisor plus formatting; the supervisor does the work, so the CLI and the policy act the same way.
import type { Command } from 'commander';
import { CfnError, EXIT, UsageError, errorMessage } from '../common/errors.js';
import { parseCount } from '../common/units.js';
import { MAX_CAPTURE_SECONDS, type CaptureProgress, type CaptureResult, type CleanupResult, type GcResult } from '../supervisor/control/protocol.js';
import { ControlClient } from './client.js';
import { runTop } from './top.js';
import { bytesMb, fetchStatus, processTable, statusHeader } from './view.js';

export interface ControlCommandsContext {
  /** main.ts's subcommand factory: adds the supervisor options, --state-dir among them. */
  sub: (name: string, description: string) => Command;
  stateDirOf: (cmd: Command) => string;
  result: { code: Promise<number> | number };
  notice: (message: string) => void;
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);
const json = (value: unknown): void => out(JSON.stringify(value, null, 2));

function parsePid(raw: string): number {
  const n = parseCount(raw);
  if (n < 1) throw new UsageError(`--pid: expected a process id, got '${raw}'`);
  return n;
}

function parseCaptureSeconds(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > MAX_CAPTURE_SECONDS) {
    throw new UsageError(`--seconds: expected a number of seconds from 1 to ${MAX_CAPTURE_SECONDS}, got '${raw}'`);
  }
  return n;
}

/** A one-line progress bar on stderr, only on a terminal so scripts get the path alone. */
function progressBar(): { update(p: CaptureProgress): void; end(): void } {
  const tty = process.stderr.isTTY;
  let drawn = false;
  return {
    update(p) {
      if (!tty) return;
      const width = 30;
      const fraction = p.total ? Math.min(1, p.done / p.total) : undefined;
      const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${Math.round(fraction * 100)}% `;
      const amount = p.phase === 'writing' ? bytesMb(p.done) : p.total ? `${p.done}/${p.total}` : `${p.done}`;
      process.stderr.write(`\r\x1b[K${bar}${p.phase} ${amount}`);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

export function registerControlCommands(ctx: ControlCommandsContext): void {
  const act = (cmd: Command, work: (client: ControlClient, opts: Record<string, unknown>) => Promise<number | void>) => {
    cmd.action(() => {
      const client = new ControlClient(ctx.stateDirOf(cmd));
      ctx.result.code = work(client, cmd.opts()).then(
        (code) => code ?? 0,
        (err: unknown) => {
          if (err instanceof UsageError) throw err;
          ctx.notice(errorMessage(err));
          return err instanceof CfnError ? err.exitCode : EXIT.failure;
        },
      );
    });
  };

  act(ctx.sub('status', 'show the supervised processes: RSS, heap, level, trend').option('--json', 'print the raw status as JSON'), async (client, opts) => {
    const { status, processes } = await fetchStatus(client);
    if (opts.json) return json({ ...status, processes });
    out([...statusHeader(status), '', ...processTable(processes)].join('\n'));
  });

  act(
    ctx
      .sub('capture', 'write a sampling heap profile (default) or a heap snapshot of an agent process; prints the file')
      .option('--pid <n>', 'which process (default: the agent\'s main node process)', parsePid)
      .option('--snapshot', 'a full heap snapshot instead of a sampling profile (pauses the process)')
      .option('--seconds <n>', 'how long the sampling profile records', parseCaptureSeconds)
      .option('--json', 'print the result as JSON'),
    async (client, opts) => {
      if (opts.snapshot && opts.seconds !== undefined) throw new UsageError('--seconds applies to profiles, not to --snapshot');
      const bar = progressBar();
      let result: CaptureResult;
      try {
        result = await client.request<CaptureResult>('POST', '/capture', {
          body: { kind: opts.snapshot ? 'snapshot' : 'profile', pid: opts.pid, seconds: opts.seconds },
          onLine: (line) => {
            if (line.progress) bar.update(line.progress as CaptureProgress);
          },
        });
      } finally {
        bar.end();
      }
      if (opts.json) return json(result);
      out(result.file);
    },
  );

  act(
    ctx
      .sub('gc', 'force a garbage collection in agent processes and show the heap before and after')
      .option('--pid <n>', 'only this process (default: every node process of the tree)', parsePid)
      .option('--json', 'print the result as JSON'),
    async (client, opts) => {
      const result = await client.request<GcResult>('POST', '/gc', { body: { pid: opts.pid } });
      if (opts.json) return json(result);
      if (result.results.length === 0) return out('no node process to collect');
      for (const r of result.results) {
        const who = r.role ? `${r.pid} (${r.role})` : String(r.pid);
        out(`${who}: heap ${bytesMb(r.before_bytes)} -> ${bytesMb(r.after_bytes)}, freed ${bytesMb(Math.max(0, r.before_bytes - r.after_bytes))}`);
      }
    },
  );

  act(ctx.sub('cleanup', 'reap zombies, kill strays of past runs, drop old captures').option('--json', 'print the result as JSON'), async (client, opts) => {
    const result = await client.request<CleanupResult>('POST', '/cleanup', { body: {} });
    if (opts.json) return json(result);
    out(result.summary);
  });

  act(ctx.sub('restart', 'stop the agent\'s tree and start a new run').option('--json', 'print the result as JSON'), async (client, opts) => {
    const result = await client.request<{ run_id?: string }>('POST', '/restart', { body: {} });
    if (opts.json) return json(result);
    out(result.run_id ? `restarting the agent: run ${result.run_id}` : 'restarting the agent');
  });

  act(ctx.sub('top', 'live view of the agent tree, refreshed every sampling interval (q to quit)'), (client) => runTop(client));
}
