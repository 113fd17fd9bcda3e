// Our children, and who waits for each. libuv waits for what child_process spawned (the watchdog, alert
// commands): those pids are registered here and never touched. Everything else is ours to wait for: the agent,
// which we spawn ourselves so that it can own the terminal (watched with its stops and continues), and the
// orphans re-parented to us as subreaper (or as PID 1 of a container), each reaped by its own pid: waitpid(-1)
// would steal libuv's children.
import type { Libc, WaitStatus } from '../../platform/libc.js';
import { platform, readStat } from '../../platform/index.js';

// SIGCHLD coalesces and a listener can miss one while the loop is busy: a slow poll catches what it missed.
const POLL_MS = 1000;

export class Children {
  private readonly watched = new Map<number, (status: WaitStatus) => void>();
  /** Live: the process tree reads it to keep our helpers out of the run. */
  readonly libuvOwned = new Set<number>();
  private timer?: NodeJS.Timeout;
  private readonly onSignal = () => this.collect();

  constructor(private readonly libc: Libc) {}

  start(): void {
    process.on('SIGCHLD', this.onSignal);
    this.timer = setInterval(this.onSignal, POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    process.off('SIGCHLD', this.onSignal);
    clearInterval(this.timer);
  }

  /** Every status change of `pid` (a child we spawned with libc) goes to `onStatus` until it exits. */
  watch(pid: number, onStatus: (status: WaitStatus) => void): void {
    this.watched.set(pid, onStatus);
    this.collect();
  }

  /** A child that child_process spawned: libuv waits for it, we never do. */
  ownedByLibuv(pid: number): void {
    this.libuvOwned.add(pid);
  }

  releasedByLibuv(pid: number): void {
    this.libuvOwned.delete(pid);
  }

  /** Waits for whatever changed: the watched children's events, then adopted zombies. */
  collect(): void {
    for (const [pid, onStatus] of this.watched) {
      for (let status = this.libc.wait(pid); status; status = status.exited ? undefined : this.libc.wait(pid)) {
        if (status.exited) this.watched.delete(pid);
        onStatus(status);
      }
    }
    for (const pid of platform().adoptedChildren()) {
      if (this.watched.has(pid) || this.libuvOwned.has(pid)) continue;
      if (readStat(pid)?.state === 'Z') this.libc.reap(pid);
    }
  }
}
