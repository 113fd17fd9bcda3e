// The one way the supervisor ends processes: a polite signal, a grace period that a second interrupt can cut
// short, then SIGKILL repeated until nothing is left (a process can fork while its parent is being killed).
import { setTimeout as sleep } from 'node:timers/promises';
import { readStat, stillLiving } from '../../platform/index.js';

export interface Killable {
  /** Looks again: true while anything of the target lives. */
  alive(): boolean;
  signal(signal: NodeJS.Signals): void;
}

/** Resolves true when the target is gone; false when it survived `killMaxMs` of SIGKILLs (a process in D state). */
export async function endGracefully(target: Killable, signal: NodeJS.Signals, graceMs: number, hurry?: AbortSignal, killMaxMs = 5000): Promise<boolean> {
  if (graceMs > 0 && target.alive()) {
    target.signal(signal);
    const deadline = Date.now() + graceMs;
    while (!hurry?.aborted && Date.now() < deadline && target.alive()) await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
  }
  const deadline = Date.now() + killMaxMs;
  while (target.alive()) {
    if (Date.now() >= deadline) return false;
    target.signal('SIGKILL');
    await sleep(10);
  }
  return true;
}

export function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** One process, by identity: a pid recycled by another process after ours died is never signalled. */
export function oneProcess(pid: number): Killable {
  const identity = readStat(pid)?.startTime;
  const same = () => identity !== undefined && stillLiving(pid, identity) !== undefined;
  return {
    alive: same,
    signal: (signal) => {
      if (same()) signalPid(pid, signal);
    },
  };
}
