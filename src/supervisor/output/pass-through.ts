// The agent's stdout or stderr handed to it as the supervisor's own (no agent log, or no pipe for that stream):
// when that is a pipe, the supervisor's node makes its side non-blocking (libuv does so for a pipe on stdio), and a
// pipe shares that flag with every process holding the same description; a writer that never expects EAGAIN
// (fs.writeSync, C's stdio) then fails when the reader lags. The agent gets the pipe opened again instead: the same
// pipe, a description of its own, blocking as the user gave it. A socket (systemd's journal) cannot be opened
// again and stays shared, as does a pipe where the platform cannot open one again (macOS).
import { closeSync, constants, fstatSync, openSync } from 'node:fs';

export interface Reopening {
  setBlocking(fd: number): boolean;
  /** platform().reopenablePath */
  reopenablePath(fd: number): string | undefined;
}

/** Which of fds 1 and 2 the agent would share with the supervisor as they are: those handed over unchanged. Pure. */
export function sharedFds(stdio: readonly [number, number, number]): (1 | 2)[] {
  return ([1, 2] as const).filter((fd) => stdio[fd] === fd);
}

/** `stdio` with each shared pipe replaced by a blocking description of its own; `opened` to close after the spawn. */
export function ownPipeEnds(stdio: readonly [number, number, number], os: Reopening): { stdio: [number, number, number]; opened: number[] } {
  const mine: [number, number, number] = [...stdio];
  const opened: number[] = [];
  for (const fd of sharedFds(stdio)) {
    const again = reopenPipe(fd, os);
    if (again === undefined) continue;
    mine[fd] = again;
    opened.push(again);
  }
  return { stdio: mine, opened };
}

function reopenPipe(fd: number, os: Reopening): number | undefined {
  let again: number | undefined;
  try {
    const where = os.reopenablePath(fd);
    if (where === undefined || !fstatSync(fd).isFIFO()) return undefined;
    // Non-blocking to open: a pipe whose reader is gone would otherwise hold the open forever (ENXIO instead).
    again = openSync(where, constants.O_WRONLY | constants.O_NONBLOCK);
    if (os.setBlocking(again)) return again;
  } catch {
    // Not a pipe we can open again: the agent shares ours, as before.
  }
  if (again !== undefined) closeSync(again);
  return undefined;
}
