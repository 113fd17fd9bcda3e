// The few libc calls Node does not expose, through koffi (prebuilt, no compiler at install time).
import { createRequire } from 'node:module';

export interface Libc {
  /** prctl(PR_SET_CHILD_SUBREAPER): orphans of the agent are re-parented to us instead of init. */
  becomeSubreaper(): boolean;
  /** waitpid(pid, WNOHANG) on exactly one pid; true when that zombie was collected. */
  reap(pid: number): boolean;
}

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

export function loadLibc(): { libc: Libc } | { error: string } {
  if (process.platform !== 'linux') return { error: `not available on ${process.platform}` };
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    const prctl = lib.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
    const waitpid = lib.func('int waitpid(int, _Out_ int *, int)');
    return {
      libc: {
        becomeSubreaper: () => prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0,
        reap: (pid) => waitpid(pid, [0], WNOHANG) === pid,
      },
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
