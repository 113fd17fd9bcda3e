// The user's terminal, handled as a shell handles it for a job: the agent's process group gets the terminal
// (so /dev/tty opens, Ctrl-C and Ctrl-Z reach the agent directly, once), and when the agent is stopped the
// supervisor takes the terminal back and stops itself, so the shell sees its job stopped; `fg` resumes both.
import { closeSync, openSync } from 'node:fs';
import type { Libc } from '../../platform/libc.js';
import { readStat } from '../../platform/index.js';

export class Terminal {
  private holder?: number;

  private constructor(
    private readonly libc: Libc,
    private readonly fd: number,
    readonly ownPgid: number,
  ) {}

  /**
   * The controlling terminal, if the supervisor has one and is in its foreground: only a foreground job may
   * hand the terminal on (started with `&`, the agent stays in the background like any background job).
   */
  static open(libc: Libc): Terminal | undefined {
    let fd: number;
    try {
      fd = openSync('/dev/tty', 'r+');
    } catch {
      return undefined;
    }
    const ownPgid = readStat('self')?.pgid;
    if (ownPgid === undefined) {
      closeSync(fd);
      return undefined;
    }
    return new Terminal(libc, fd, ownPgid);
  }

  foreground(): boolean {
    return this.libc.tcgetpgrp(this.fd) === this.ownPgid;
  }

  /**
   * Hands the terminal to the agent's group when the supervisor holds it, then continues that group: an agent
   * that touched the terminal before it was its own was stopped (SIGTTIN/SIGTTOU) and must go on.
   */
  handTo(pgid: number): void {
    if (this.foreground() && this.libc.tcsetpgrp(this.fd, pgid)) this.holder = pgid;
    try {
      process.kill(-pgid, 'SIGCONT');
    } catch {
      // The group is already gone.
    }
  }

  /** Takes the terminal back from the agent's group, if it still has it. */
  reclaim(): void {
    if (this.holder === undefined) return;
    if (this.libc.tcgetpgrp(this.fd) === this.holder) this.libc.tcsetpgrp(this.fd, this.ownPgid);
    this.holder = undefined;
  }

  close(): void {
    this.reclaim();
    closeSync(this.fd);
  }
}
