/*
 * One inspector session per registered node process, served by that process's probe over the registry
 * socket (an in-process inspector.Session; see src/probe/probe.cts for why not a websocket client).
 * Consequences: nothing is printed on the agent's streams, no session ever delays the agent's exit, and no
 * inspector port is open. A call is answered when the agent's event loop turns, so an agent spinning in
 * synchronous code answers late: every call has a timeout (TimeoutError) and RSS from /proc is the fallback.
 *
 * Not covered: worker threads. The probe skips them, and their heaps are not in the parent's figures.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  captureName,
  createPendingCapture,
  enforceRetention,
  type CaptureKind,
  type RetentionOptions,
} from '../journal/captures.js';
import { ProbeError, Refused } from '../../common/errors.js';
import type { ProcessRecord, Registry } from './registry.js';
import { ensurePrivateDir } from '../../common/statedir.js';
import { systemMemory } from '../../common/sysmem.js';
import { pageSize, readStat } from '../proc/stat.js';
import { MB, wholeMb as mib } from '../../common/units.js';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface InspectorsOptions {
  registry: Registry;
  /** Bytes between heap samples; 0 turns continuous sampling off. */
  samplingInterval: number;
  callTimeoutMs: number;
  capturesDir: string;
  log: Logger;
  maxSessions?: number;
  /** A snapshot is abandoned after this long without progress (building one pauses the agent for many seconds). */
  snapshotIdleTimeoutMs?: number;
  /** A snapshot is refused unless MemAvailable exceeds (factor − 1) × the agent's RSS: it grew 5–12× in measurements. */
  snapshotHeadroomFactor?: number;
  /** Applied to capturesDir after each capture. */
  retention?: RetentionOptions;
}

export interface HeapUsage {
  used: number;
  total: number;
  limit: number;
  oldSpaceLimit?: number;
}

export interface HeapStats {
  usedHeapSize: number;
  totalHeapSize: number;
  heapSizeLimit: number;
  mallocedMemory: number;
  externalMemory: number;
  oldSpaceSize?: number;
  oldSpaceUsed?: number;
  oldSpaceLimit?: number;
}

interface Session {
  rec: ProcessRecord;
  sampling: boolean;
}

export const DEFAULT_SAMPLING_INTERVAL = 512 * 1024;

export class Inspectors {
  private readonly sessions = new Map<number, Session>();
  private readonly maxSessions: number;
  private readonly snapshotIdleTimeoutMs: number;
  private readonly headroomFactor: number;

  constructor(private readonly opts: InspectorsOptions) {
    this.maxSessions = opts.maxSessions ?? 256;
    this.snapshotIdleTimeoutMs = opts.snapshotIdleTimeoutMs ?? 60_000;
    this.headroomFactor = opts.snapshotHeadroomFactor ?? 12;
    opts.registry.on('exit', (pid) => this.sessions.delete(pid));
  }

  /** Starts continuous sampling at once, so that even a fast death leaves evidence. */
  async attach(rec: ProcessRecord): Promise<void> {
    if (this.sessions.has(rec.pid)) return;
    if (this.sessions.size >= this.maxSessions) {
      this.opts.log.warn({ pid: rec.pid, max: this.maxSessions }, 'inspector: too many sessions, not attaching');
      return;
    }
    const session: Session = { rec, sampling: false };
    this.sessions.set(rec.pid, session);
    try {
      await this.cdp(rec.pid, 'HeapProfiler.enable');
      if (this.opts.samplingInterval > 0) {
        await this.cdp(rec.pid, 'HeapProfiler.startSampling', { samplingInterval: this.opts.samplingInterval });
        session.sampling = true;
      }
    } catch (err) {
      // Forgotten, so that a later attach (say, once a busy agent answers) starts afresh.
      this.sessions.delete(rec.pid);
      throw err;
    }
    this.opts.log.debug({ pid: rec.pid, sampling: session.sampling }, 'inspector: attached');
  }

  /** Stops sampling in a process that lives on; forgetting an exited one needs no call. */
  detach(pid: number): void {
    const session = this.sessions.get(pid);
    if (!session) return;
    this.sessions.delete(pid);
    if (session.sampling) {
      this.cdp(pid, 'HeapProfiler.stopSampling').catch((err: Error) =>
        this.opts.log.debug({ pid, err: err.message }, 'inspector: stopSampling on detach failed'),
      );
    }
  }

  has(pid: number): boolean {
    return this.sessions.has(pid);
  }

  async heap(pid: number): Promise<HeapUsage> {
    const { rec } = this.session(pid);
    const u = await this.cdp<{ usedSize: number; totalSize: number }>(pid, 'Runtime.getHeapUsage');
    return {
      used: u.usedSize,
      total: u.totalSize,
      limit: rec.heapSizeLimit,
      ...(rec.oldSpaceLimit === undefined ? {} : { oldSpaceLimit: rec.oldSpaceLimit }),
    };
  }

  /** V8 heap statistics with the old space's size and limit. */
  heapStats(pid: number): Promise<HeapStats> {
    this.session(pid);
    return this.opts.registry.request<HeapStats>(pid, { type: 'heap-stats' }, { timeoutMs: this.opts.callTimeoutMs });
  }

  /**
   * The sampling profile as `--heap-prof` writes it (the `profile` object alone). With a window, sampling starts
   * afresh and the profile covers exactly the window's seconds; without one, everything sampled so far.
   */
  async saveProfile(pid: number, reason: string, window?: { seconds: number; onSecond?: (done: number) => void }): Promise<string> {
    const session = this.session(pid);
    if (window) {
      if (session.sampling) await this.cdp(pid, 'HeapProfiler.stopSampling');
      session.sampling = false;
      await this.cdp(pid, 'HeapProfiler.startSampling', { samplingInterval: this.opts.samplingInterval || DEFAULT_SAMPLING_INTERVAL });
      session.sampling = true;
      for (let s = 0; s < window.seconds; s++) {
        window.onSecond?.(s);
        await sleep(1000);
        if (!this.sessions.has(pid)) throw new ProbeError(pid, 'the process exited while sampling');
      }
    } else if (!session.sampling) {
      throw new ProbeError(pid, 'sampling is off (--sampling-interval 0): ask for a window with --seconds');
    }
    try {
      return await this.capture(pid, reason, 'heapprofile', { timeoutMs: this.opts.callTimeoutMs });
    } finally {
      if (window && this.opts.samplingInterval === 0 && this.sessions.has(pid)) {
        session.sampling = false;
        await this.cdp(pid, 'HeapProfiler.stopSampling').catch(() => undefined);
      }
    }
  }

  /**
   * Streams a heap snapshot to disk: the probe writes each chunk into the capture file as V8 produces it,
   * so nothing of it passes through this process. Refused when the machine lacks the memory to take it.
   * `onProgress(bytesWritten, 0)`: the total size is not known before the end.
   */
  async snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void): Promise<string> {
    this.session(pid);
    await this.checkHeadroom(pid);
    return this.capture(pid, reason, 'heapsnapshot', {
      timeoutMs: this.snapshotIdleTimeoutMs,
      ...(onProgress ? { onProgress } : {}),
    });
  }

  async gc(pid: number): Promise<{ beforeBytes: number; afterBytes: number }> {
    const before = await this.heap(pid);
    await this.cdp(pid, 'HeapProfiler.collectGarbage');
    const after = await this.heap(pid);
    return { beforeBytes: before.used, afterBytes: after.used };
  }

  async closeAll(): Promise<void> {
    const pids = [...this.sessions.keys()];
    for (const pid of pids) this.detach(pid);
  }

  private session(pid: number): Session {
    const s = this.sessions.get(pid);
    if (!s) throw new ProbeError(pid, 'no inspector session');
    return s;
  }

  private cdp<T = unknown>(pid: number, method: string, params?: object): Promise<T> {
    return this.opts.registry.request<T>(
      pid,
      { type: 'cdp', method, ...(params ? { params } : {}) },
      { timeoutMs: this.opts.callTimeoutMs },
    );
  }

  private async capture(
    pid: number,
    reason: string,
    kind: CaptureKind,
    ro: { timeoutMs: number; onProgress?: (done: number, total: number) => void },
  ): Promise<string> {
    const pending = await createPendingCapture(this.opts.capturesDir, captureName(pid, reason, kind));
    try {
      await this.opts.registry.request(pid, { type: 'capture', kind, path: pending.tmpPath }, ro);
    } catch (err) {
      await pending.abort();
      throw err;
    }
    const file = await pending.commit();
    this.opts.log.info({ pid, kind, reason, file }, 'inspector: capture written');
    if (this.opts.retention) {
      const removed = await enforceRetention(this.opts.capturesDir, this.opts.retention);
      if (removed.length > 0) this.opts.log.info({ removed }, 'inspector: old captures removed');
    }
    return file;
  }

  private async checkHeadroom(pid: number): Promise<void> {
    const stat = readStat(pid);
    if (!stat) throw new Refused(`pid ${pid}: snapshot refused: the process is gone`, 404);
    const rss = stat.rssPages * pageSize();
    const available = systemMemory().available_mb * MB;
    const need = (this.headroomFactor - 1) * rss;
    if (available < need) {
      throw new Refused(
        `pid ${pid}: snapshot refused: it may need ${mib(need)} MB more (RSS ${mib(rss)} MB × ${this.headroomFactor}) ` +
          `but only ${mib(available)} MB are available`,
      );
    }
    // The file is about the size of the heap, and the heap is below the RSS: a full disk would cut it short.
    const disk = await fs.statfs(ensurePrivateDir(this.opts.capturesDir));
    const free = disk.bavail * disk.bsize;
    if (free < rss) {
      throw new Refused(`pid ${pid}: snapshot refused: ${mib(free)} MB free on the captures disk, the file may need ${mib(rss)} MB`);
    }
  }
}
