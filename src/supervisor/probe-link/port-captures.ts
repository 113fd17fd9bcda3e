// The node processes of the tree that the probe cannot reach (a CLI that spawns children with a clean
// environment strips NODE_OPTIONS): captured and collected through their inspector port, opened for the work
// and closed after it (inspector-port.ts). Their `Debugger listening`/`Debugger attached.` lines on the
// process's stderr are this path's documented price, which is why the probe stays the first choice.
import type { Logger } from 'pino';
import type { Instrumentation, ProfileOptions } from '../act/executor.js';
import { enforceRetention, type RetentionOptions } from '../journal/captures.js';
import { attachInspector, saveCapture, type InspectorHandle } from './inspector-port.js';
import { throwIfCancelled, type HeapUsage } from './sessions.js';

export interface PortCapturesOptions {
  /** A node process of the tree without a probe session: the only ones this path touches. */
  attachable: (pid: number) => boolean;
  capturesDir: string;
  retention?: RetentionOptions;
  samplingIntervalBytes: number;
  callTimeoutMs: number;
  log: Pick<Logger, 'info' | 'warn'>;
}

/** A profile of a process that was not sampling covers this many seconds of fresh sampling. */
const DEFAULT_WINDOW_SECONDS = 5;
const OPEN_TIMEOUT_MS = 10_000;

export class PortCaptures implements Instrumentation {
  constructor(private readonly opts: PortCapturesOptions) {}

  /** A worker thread's isolate is reached only through its probe. */
  has(pid: number, thread = 0): boolean {
    return !thread && this.opts.attachable(pid);
  }

  threads(): number[] {
    return [];
  }

  heap(pid: number): Promise<HeapUsage> {
    return this.with(pid, (h) => h.heapUsage());
  }

  saveProfile(pid: number, reason: string, { window, coldSeconds = DEFAULT_WINDOW_SECONDS }: ProfileOptions = {}): Promise<string> {
    return this.with(pid, async (h) => {
      await h.startSampling(this.opts.samplingIntervalBytes);
      const seconds = window?.seconds ?? coldSeconds;
      for (let s = 0; s < seconds; s++) {
        window?.onSecond?.(s);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        throwIfCancelled(pid, window);
      }
      const file = await saveCapture(h, this.opts.capturesDir, reason, 'heapprofile');
      await h.stopSampling();
      return this.kept(pid, file);
    });
  }

  snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void): Promise<string> {
    return this.with(pid, async (h) => this.kept(pid, await saveCapture(h, this.opts.capturesDir, reason, 'heapsnapshot', onProgress)));
  }

  gc(pid: number): Promise<{ beforeBytes: number; afterBytes: number }> {
    return this.with(pid, (h) => h.collectGarbage());
  }

  /** Attach, work, and always detach: the inspector this opened is closed again. */
  private async with<T>(pid: number, work: (h: InspectorHandle) => Promise<T>): Promise<T> {
    const h = await attachInspector(pid, { callTimeoutMs: this.opts.callTimeoutMs, openTimeoutMs: OPEN_TIMEOUT_MS });
    try {
      return await work(h);
    } finally {
      const fate = await h.close();
      if (fate === 'still-open') this.opts.log.warn({ pid }, 'inspector port: the inspector stayed open after detaching (the process is blocked); it closes itself once it runs again');
    }
  }

  private async kept(pid: number, file: string): Promise<string> {
    this.opts.log.info({ pid, file }, 'inspector port: capture written');
    if (this.opts.retention) await enforceRetention(this.opts.capturesDir, this.opts.retention);
    return file;
  }
}

/**
 * The first way in that has the process (or the isolate, for a worker thread): a node probe's session, a Bun
 * inspector link, and the inspector port (last: it is the one that prints on the process's stderr).
 */
export function firstWayIn(ways: (Instrumentation | undefined)[]): Instrumentation {
  const present = ways.filter((w): w is Instrumentation => w !== undefined);
  const pick = (pid: number, thread = 0) => present.find((w) => w.has(pid, thread)) ?? present[present.length - 1]!;
  return {
    has: (pid, thread) => present.some((w) => w.has(pid, thread)),
    threads: (pid) => present.find((w) => w.has(pid))?.threads(pid) ?? [],
    heap: (pid, thread) => pick(pid, thread).heap(pid, thread),
    saveProfile: (pid, reason, opts) => pick(pid, opts?.thread).saveProfile(pid, reason, opts),
    snapshot: (pid, reason, onProgress, thread) => pick(pid, thread).snapshot(pid, reason, onProgress, thread),
    gc: (pid, thread) => pick(pid, thread).gc(pid, thread),
  };
}
