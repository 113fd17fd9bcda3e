// Why a supervisor that accepted a request says nothing. A stopped one (Ctrl-Z, SIGSTOP) or a hung one still
// accepts connections, the kernel queues them, so a client would wait for its idle timeout: a minute that a
// hook (`cleanup` in an agent's hook) would block its agent for. The lock file names the supervisor's pid,
// /proc says whether it is stopped, and a ping tells a hung supervisor from one busy with a long action.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SupervisorUnresponsive } from '../common/errors.js';
import { LOCK_NAME } from '../common/statedir.js';
import { readStat } from '../platform/index.js';

/** No answer to a request within this long starts the check; a ping unanswered this long means hung. */
export const FIRST_BYTE_MS = 2_000;
export const PING_MS = 3_000;

export type Silence = 'stopped' | 'hung' | 'busy';

/** Pure: a stopped process answers nothing; a running one that answers a ping is busy with the request. */
export function silenceOf(state: string | undefined, pingAnswered: boolean | undefined): Silence | undefined {
  if (state === 'T' || state === 't') return 'stopped';
  if (pingAnswered === undefined) return undefined;
  return pingAnswered ? 'busy' : 'hung';
}

/** The one line a person reads, with what to do about it. */
export function silenceMessage(silence: Exclude<Silence, 'busy'>, pid: number | undefined, stateDir: string): string {
  const who = pid === undefined ? `the supervisor in ${stateDir}` : `the supervisor (pid ${pid})`;
  if (silence === 'stopped') return `${who} is stopped (Ctrl-Z or SIGSTOP); \`fg\` in its terminal or \`kill -CONT ${pid ?? '<pid>'}\` resumes it`;
  return `${who} is not answering (hung for over ${(FIRST_BYTE_MS + PING_MS) / 1000} s); its log is ${path.join(stateDir, 'supervisor.log')}`;
}

/** The pid the supervisor wrote into its lock file, if it can be read. */
export function lockPid(stateDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(path.resolve(stateDir), LOCK_NAME), 'latin1'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error to end a silent request with, or undefined when the supervisor is only busy. `ping` answers
 * whether a cheap request got any answer within PING_MS; it is asked only when /proc does not settle it.
 */
export async function judgeSilence(stateDir: string, ping: () => Promise<boolean>): Promise<SupervisorUnresponsive | undefined> {
  const pid = lockPid(stateDir);
  const state = pid === undefined ? undefined : readStat(pid)?.state;
  const silence = silenceOf(state, undefined) ?? silenceOf(state, await ping());
  return silence === 'busy' || silence === undefined ? undefined : new SupervisorUnresponsive(silenceMessage(silence, pid, stateDir));
}
