// Job control passed through: Ctrl-Z stops the agent's group and the supervisor's job with it, as a shell
// expects of a job; fg gives the agent the terminal again, bg only continues it.
import type { Logger } from 'pino';
import type { ProcessTree } from '../proc/tree.js';
import type { Terminal } from './terminal.js';

// A person who stops the agent's job on purpose: the supervisor stops with it.
export const JOB_STOP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

export class JobControl {
  /** The supervisor itself just stopped the agent's group: that stop is not news to act on. */
  private forwardedStop = false;

  constructor(
    private readonly tree: ProcessTree,
    private readonly terminal: Terminal | undefined,
    private readonly log: Logger,
  ) {}

  /** A stop signal sent to the supervisor (kill -TSTP, or the terminal while we held it). */
  stopRequested(signal: NodeJS.Signals, agentRunning: boolean): void {
    if (agentRunning) {
      this.forwardedStop = true;
      this.tree.signalAll(signal);
    }
    this.stopSelf(signal);
  }

  /** The agent's group was stopped from the terminal (Ctrl-Z): the supervisor's job stops with it. */
  agentStopped(signal: NodeJS.Signals): void {
    this.log.info({ signal }, 'agent stopped');
    if (this.forwardedStop) this.forwardedStop = false;
    else if (JOB_STOP_SIGNALS.has(signal)) this.stopSelf(signal);
  }

  /** SIGCONT: fg hands the agent the terminal again; bg only continues it. */
  resumed(agentPid: number | undefined): void {
    if (agentPid === undefined) return;
    if (this.terminal) this.terminal.handTo(agentPid);
    else this.tree.signalAll('SIGCONT', []);
  }

  /**
   * Gives the terminal back to the shell's job (ours) and stops that job with the same signal, so the shell
   * reports it stopped. Execution continues here after SIGCONT (fg or bg).
   */
  private stopSelf(signal: NodeJS.Signals): void {
    // PID 1 of a container is nobody's job: there is no shell to tell, and its group may reach outside.
    if (process.pid === 1) return;
    this.terminal?.reclaim();
    const listeners = process.listeners(signal);
    process.removeAllListeners(signal);
    try {
      process.kill(0, signal);
    } finally {
      for (const l of listeners) process.on(signal, l);
    }
  }
}
