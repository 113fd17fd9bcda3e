// The watchdog: a tiny shell process, in a session of its own so that the signals that end the supervisor's job
// do not end it, holding a pipe from the supervisor. The supervisor says "bye" before it exits; if the pipe
// closes without it (kill -9, the OOM killer, a crash), the watchdog ends every process in the ledger — by pid
// and start time, by the agent's process group, and their descendants that joined since the ledger was written:
// SIGTERM, a grace, then SIGKILL. A shell costs ~1 MB where a second node process would cost ~40 MB, and it
// has nothing to load: it is watching from the first millisecond.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Children } from '../proc/children.js';

// Shipped beside this module (the build copies it): a shell script reads best as a shell script.
const SCRIPT = fileURLToPath(new URL('./watchdog.sh', import.meta.url));

export class Watchdog {
  private child?: ChildProcess;
  private leaving = false;

  constructor(
    private readonly ledgerFile: string,
    private readonly graceMs: number,
    private readonly children: Children,
    private readonly log: Logger,
  ) {}

  start(): void {
    const child = spawn('/bin/sh', [SCRIPT, this.ledgerFile, String(Math.max(1, Math.round(this.graceMs / 100)))], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.child = child;
    if (child.pid !== undefined) this.children.ownedByLibuv(child.pid);
    child.unref();
    // The pipe must not keep the supervisor alive, and an EPIPE on it must not end the supervisor.
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin?.on('error', () => {});
    child.once('error', (err) => this.log.warn({ err: err.message }, 'watchdog could not start: a killed supervisor leaves the ledger to the next one'));
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) this.children.releasedByLibuv(child.pid);
      if (this.leaving) return;
      this.log.warn({ code, signal }, 'watchdog ended; starting another');
      this.start();
    });
  }

  /** The supervisor leaves on purpose: the watchdog goes without touching anything. */
  bye(): void {
    this.leaving = true;
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.end('bye\n');
  }
}
