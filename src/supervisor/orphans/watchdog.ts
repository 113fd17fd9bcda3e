// The watchdog: a tiny shell process, in a session of its own so that the signals that end the supervisor's job
// do not end it, holding a pipe from the supervisor. What it must end comes over that pipe and nowhere else (a
// ledger file could be swapped for a planted one): the ledger's targets, sent again whenever they change. The
// supervisor says "bye" before it exits; if the pipe closes without it (kill -9, the OOM killer, a crash), the
// watchdog ends those processes — by pid and start time, by the agent's process group, and their descendants that
// joined since: SIGTERM, a grace, then SIGKILL. A shell costs a small fraction of a second node process's memory,
// and it has nothing to load: it is watching from the first millisecond. On every tick the supervisor checks that
// it still watches: a stopped one (SIGSTOP, a debugger) would leave the tree behind, so it is replaced.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { Children } from '../proc/children.js';
import { platform, readStat, WATCHDOG_SCRIPT } from '../../platform/index.js';

/**
 * What may wait in the pipe for a watchdog that does not read: a few blocks of targets at most. More means it
 * stopped reading, and what it holds must not grow without end.
 */
export const MAX_BACKLOG_BYTES = 1 << 20;

/**
 * Why a watchdog must be replaced: stopped (`T`, or `t` under a tracer) or not reading its pipe. One already gone
 * (no stat, or a zombie) is left to its exit event, which starts the next.
 */
export function unfitWatchdog(state: string | undefined, backlog: number): string | undefined {
  if (state === 'T' || state === 't') return 'stopped';
  if (state !== undefined && state !== 'Z' && backlog > MAX_BACKLOG_BYTES) return 'not reading its pipe';
  return undefined;
}

/** The message that hands the watchdog its targets ("pgid …" and "pid … …" lines): a whole block or nothing. */
export const targetsMessage = (targets: string) => `targets\n${targets ? `${targets}\n` : ''}end\n`;

export class Watchdog {
  private child?: ChildProcess;
  private leaving = false;
  /** The last targets sent: a replacement gets them at once. */
  private targets = '';

  constructor(
    private readonly graceMs: number,
    private readonly children: Children,
    private readonly log: Logger,
  ) {}

  start(): void {
    const child = spawn('/bin/sh', [WATCHDOG_SCRIPT, String(Math.max(1, Math.round(this.graceMs / 100))), ...platform().watchdogMode()], {
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
      // A replaced one was killed on purpose: its successor already runs.
      if (this.leaving || child !== this.child) return;
      this.log.warn({ code, signal }, 'watchdog ended; starting another');
      this.start();
    });
    if (this.targets) this.send();
  }

  /**
   * The supervisor's tick, with the ledger's targets as they are now: sent when they changed, and the watchdog
   * replaced (a new one started with them, the old one killed) when it no longer watches.
   */
  tick(targets: string): void {
    if (this.leaving || !this.child) return;
    const changed = targets !== this.targets;
    this.targets = targets;
    const old = this.child;
    const why = old.pid === undefined ? undefined : unfitWatchdog(readStat(old.pid)?.state, old.stdin?.writableLength ?? 0);
    if (why) {
      this.log.warn({ pid: old.pid, why }, 'watchdog no longer watches; starting another');
      this.start();
      // Still our child and not yet waited for, so its pid cannot have been reused: SIGKILL ends even a stopped one.
      old.kill('SIGKILL');
    } else if (changed) this.send();
  }

  /** The supervisor leaves on purpose: the watchdog goes without touching anything. */
  bye(): void {
    this.leaving = true;
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.end('bye\n');
  }

  private send(): void {
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(targetsMessage(this.targets));
  }
}
