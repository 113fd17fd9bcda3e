/*
 * What the supervisor can ask of each registered node process, through its probe over the registry socket
 * (src/probe/probe.cts has the protocol and why no websocket client). Nothing is printed on the agent's
 * streams, nothing ever delays its exit, and no inspector port is open.
 *
 * No inspector session is attached by default (an attached one slows every console call 2.59×): heap
 * statistics come from V8's own counters, a GC or a capture attaches for its duration, and sampling runs
 * from the first sign of pressure, which each probe judges itself after every major GC against the pressure
 * fraction sent here (setPressure), or while the supervisor holds it for a profile window. Each probe also
 * reports its heap after every major GC (onGc): the true floors a leak trend should be fitted on.
 *
 * A call is answered when the agent's event loop turns, so an agent spinning in synchronous code answers
 * late: every call has a timeout (TimeoutError), every capture a total cap, and RSS from /proc is the
 * fallback. Each worker thread is an isolate of its own (its own heap, limit and probe connection): every
 * call takes the isolate's thread, 0 (the default) for the main thread.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  captureName,
  createPendingCapture,
  enforceRetention,
  type CaptureKind,
  type RetentionOptions,
} from '../journal/captures.js';
import { ProbeError } from '../../common/errors.js';
import type { ProfileOptions, SamplingWindow } from '../act/executor.js';
import { wholeMb as mib } from '../../common/units.js';
import { isPositiveInt, type ProcessRecord, type Registry } from './registry.js';
import { isolateKey } from './isolate.js';
import { DEFAULT_HEADROOM, checkSnapshotHeadroom, reservedProgress, type HeadroomFactors } from './snapshot-headroom.js';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Heap used right after a major GC, and when (epoch ms, the probe's clock: the same machine's). */
export interface GcPoint {
  used: number;
  at: number;
}

export interface InspectorsOptions {
  registry: Registry;
  /** Bytes between heap samples once sampling runs; 0: probes never start sampling on their own. */
  samplingInterval: number;
  /** Heap used ÷ old-space limit at which a probe starts sampling on its own (the warning fraction). */
  pressure: number;
  callTimeoutMs: number;
  capturesDir: string;
  log: Logger;
  maxSessions?: number;
  /** A snapshot is abandoned after this long without progress (building one pauses the agent for many seconds). */
  snapshotIdleTimeoutMs?: number;
  /** …and after this long in all, progress or not. */
  snapshotTimeoutMs?: number;
  /** HeadroomFactors.memory (snapshot-headroom.ts). */
  snapshotHeadroomFactor?: number;
  /** HeadroomFactors.file. */
  snapshotFileFactor?: number;
  /** A profile asked for without a window while the process is not sampling samples this long first. */
  defaultWindowSeconds?: number;
  /** Applied to capturesDir after each capture. */
  retention?: RetentionOptions;
  /** A process's heap after a major GC, as its probe reports it (at most one point per 500 ms, the latest). */
  onGc?: (pid: number, point: GcPoint, thread: number) => void;
  /** A worker thread of `pid` died of its heap (ERR_WORKER_OUT_OF_MEMORY); fatal: nothing handled the error. */
  onWorkerOom?: (pid: number, thread: number, fatal: boolean) => void;
}

export interface HeapUsage {
  used: number;
  total: number;
  limit: number;
  oldSpaceLimit?: number;
  /** A sampling profile is being recorded (since the first sign of pressure, or for a profile window). */
  sampling?: boolean;
  lastGc?: GcPoint;
  /** Off-heap memory: Buffers and ArrayBuffers (process.memoryUsage()); absent from an older probe. */
  external?: number;
  arrayBuffers?: number;
  /** Active handles and requests by type (process.getActiveResourcesInfo()). */
  handles?: Record<string, number>;
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
  external?: number;
  arrayBuffers?: number;
  handles?: Record<string, number>;
  sampling: boolean;
  /** An inspector session is attached in the process (only while sampling or during a GC or capture). */
  session: boolean;
  lastGc?: GcPoint;
}

interface Probe {
  rec: ProcessRecord;
  sampling: boolean;
  lastGc?: GcPoint;
}

export const DEFAULT_SAMPLING_INTERVAL = 512 * 1024;

/** A sampling window whose asker went away ends here, before anything is written. */
export function throwIfCancelled(pid: number, window: SamplingWindow | undefined): void {
  if (window?.cancelled?.aborted) throw new ProbeError(pid, 'capture cancelled: the client that asked for it went away');
}

export class Inspectors {
  /** By isolateKey. */
  private readonly probes = new Map<string, Probe>();
  /** The worker threads with a probe, by pid. */
  private readonly workers = new Map<number, Set<number>>();
  private readonly maxSessions: number;
  private readonly snapshotIdleTimeoutMs: number;
  private readonly snapshotTimeoutMs: number;
  private readonly headroom: HeadroomFactors;
  private readonly defaultWindowSeconds: number;
  private pressure: number;
  /** Aborted by closeAll: nothing in flight may hold the supervisor's stop. */
  private readonly closing = new AbortController();

  constructor(private readonly opts: InspectorsOptions) {
    this.maxSessions = opts.maxSessions ?? 256;
    this.snapshotIdleTimeoutMs = opts.snapshotIdleTimeoutMs ?? 60_000;
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 10 * 60_000;
    this.headroom = {
      memory: opts.snapshotHeadroomFactor ?? DEFAULT_HEADROOM.memory,
      file: opts.snapshotFileFactor ?? DEFAULT_HEADROOM.file,
    };
    this.defaultWindowSeconds = opts.defaultWindowSeconds ?? 5;
    this.pressure = opts.pressure;
    opts.registry.on('exit', (pid, { thread = 0 }) => this.forget(pid, thread));
    opts.registry.on('notice', (pid, msg, thread) => this.notice(pid, msg, thread));
  }

  /** Takes a registered process on: its probe learns the pressure fraction, sampling interval and captures folder. */
  async attach(rec: ProcessRecord): Promise<void> {
    const { pid, thread = 0 } = rec;
    const key = isolateKey(pid, thread);
    if (this.probes.has(key)) return;
    if (this.probes.size >= this.maxSessions) {
      this.opts.log.warn({ pid, thread, max: this.maxSessions }, 'inspector: too many isolates, not attaching');
      return;
    }
    this.probes.set(key, { rec, sampling: false });
    if (thread) this.workers.set(pid, (this.workers.get(pid) ?? new Set<number>()).add(thread));
    if (!this.configure(rec)) {
      this.forget(pid, thread);
      throw new ProbeError(pid, 'config: probe is not reading');
    }
    this.opts.log.debug({ pid, thread }, 'inspector: attached');
  }

  /** The worker threads of `pid` with a probe, oldest first. */
  threads(pid: number): Iterable<number> {
    return this.workers.get(pid) ?? [];
  }

  private forget(pid: number, thread: number): void {
    this.probes.delete(isolateKey(pid, thread));
    const threads = this.workers.get(pid);
    if (threads?.delete(thread) && threads.size === 0) this.workers.delete(pid);
  }

  /** The pressure fraction changed at run time (the warning level): every probe hears of it. */
  setPressure(fraction: number): void {
    this.pressure = fraction;
    for (const { rec } of this.probes.values()) this.configure(rec);
  }

  has(pid: number, thread = 0): boolean {
    return this.probes.has(isolateKey(pid, thread));
  }

  async heap(pid: number, thread = 0): Promise<HeapUsage> {
    const { rec } = this.probe(pid, thread);
    const s = await this.heapStats(pid, thread);
    return {
      used: s.usedHeapSize,
      total: s.totalHeapSize,
      limit: rec.heapSizeLimit,
      external: s.externalMemory,
      ...(rec.oldSpaceLimit === undefined ? {} : { oldSpaceLimit: rec.oldSpaceLimit }),
      sampling: s.sampling,
      ...(s.lastGc ? { lastGc: s.lastGc } : {}),
      ...(s.external === undefined ? {} : { external: s.external }),
      ...(s.arrayBuffers === undefined ? {} : { arrayBuffers: s.arrayBuffers }),
      ...(s.handles ? { handles: s.handles } : {}),
    };
  }

  /** V8 heap statistics with the old space's size and limit, and the probe's own state. */
  async heapStats(pid: number, thread = 0): Promise<HeapStats> {
    const probe = this.probe(pid, thread);
    const s = await this.request<HeapStats>(pid, { type: 'heap-stats' }, thread);
    probe.sampling = s.sampling;
    if (s.lastGc) probe.lastGc = s.lastGc;
    return s;
  }

  /** Sampling from now until stopSampling, whatever the pressure. */
  async startSampling(pid: number): Promise<void> {
    await this.sampling(pid, 'hold');
  }

  /** Stops sampling now (and detaches); the probe starts again on its own only once its heap was low. */
  async stopSampling(pid: number): Promise<void> {
    await this.sampling(pid, 'stop');
  }

  /**
   * The sampling profile as `--heap-prof` writes it (the `profile` object alone). With a window, sampling starts
   * afresh and the profile covers exactly the window's seconds; without one, everything sampled since sampling
   * started, or, in a process that was not sampling, the next `coldSeconds` (default 5; said in the log).
   */
  async saveProfile(pid: number, reason: string, { window, coldSeconds = this.defaultWindowSeconds, thread = 0 }: ProfileOptions = {}): Promise<string> {
    this.probe(pid, thread);
    const { wasSampling } = await this.sampling(pid, window ? 'window' : 'hold', thread);
    try {
      if (!window && !wasSampling) {
        this.opts.log.info({ pid, thread, reason, seconds: coldSeconds }, 'inspector: the process was not sampling; sampling before the profile');
      }
      await this.wait(pid, window?.seconds ?? (wasSampling ? 0 : coldSeconds), window, thread);
      return await this.capture(pid, reason, 'heapprofile', { timeoutMs: this.opts.callTimeoutMs }, thread);
    } finally {
      // Sampling goes on if the probe's own pressure asks for it.
      if (this.has(pid, thread)) this.sampling(pid, 'release', thread).catch((err: Error) => this.opts.log.debug({ pid, thread, err: err.message }, 'inspector: sampling release failed'));
    }
  }

  /**
   * Streams a heap snapshot to disk: the probe writes each chunk into the capture file as V8 produces it,
   * so nothing of it passes through this process. Refused when the machine lacks the memory or the disk to
   * take it. `onProgress(bytesWritten, 0)`: the total size is not known before the end.
   */
  async snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void, thread = 0): Promise<string> {
    const stats = await this.heapStats(pid, thread);
    const reservation = await checkSnapshotHeadroom(pid, stats.usedHeapSize, this.opts.capturesDir, this.headroom);
    try {
      return await this.capture(pid, reason, 'heapsnapshot', {
        timeoutMs: this.snapshotIdleTimeoutMs,
        totalMs: this.snapshotTimeoutMs,
        onProgress: reservedProgress(reservation, onProgress),
      }, thread);
    } finally {
      reservation.release();
    }
  }

  async gc(pid: number, thread = 0): Promise<{ beforeBytes: number; afterBytes: number }> {
    this.probe(pid, thread);
    return this.request(pid, { type: 'gc' }, thread);
  }

  /**
   * Stops waiting on every process: captures, GCs and sampling windows in flight fail at once, so a stop can
   * call this first and never wait on a probe. Sampling in the probes stops when the registry closes.
   */
  closeAll(): void {
    this.closing.abort();
    this.probes.clear();
    this.workers.clear();
    this.opts.registry.abortPending('the supervisor is stopping');
  }

  private probe(pid: number, thread = 0): Probe {
    const p = this.probes.get(isolateKey(pid, thread));
    if (!p) throw new ProbeError(pid, thread ? `no probe registered in thread ${thread}` : 'no probe registered');
    return p;
  }

  private configure(rec: ProcessRecord): boolean {
    const msg = { type: 'config', pressure: this.pressure, samplingInterval: this.opts.samplingInterval, capturesDir: this.opts.capturesDir };
    return this.opts.registry.send(rec.pid, msg, rec.thread);
  }

  private request<T>(pid: number, msg: Record<string, unknown>, thread = 0): Promise<T> {
    return this.opts.registry.request<T>(pid, msg, { timeoutMs: this.opts.callTimeoutMs }, thread);
  }

  private async sampling(pid: number, mode: 'hold' | 'window' | 'release' | 'stop', thread = 0): Promise<{ sampling: boolean; wasSampling: boolean }> {
    const interval = this.opts.samplingInterval || DEFAULT_SAMPLING_INTERVAL;
    const r = await this.request<{ sampling: boolean; wasSampling: boolean }>(pid, { type: 'sampling', mode, interval }, thread);
    const probe = this.probes.get(isolateKey(pid, thread));
    if (probe) probe.sampling = r.sampling;
    return r;
  }

  private async wait(pid: number, seconds: number, window?: SamplingWindow, thread = 0): Promise<void> {
    for (let s = 0; s < seconds; s++) {
      window?.onSecond?.(s);
      await sleep(1000, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closing.signal.aborted) throw new ProbeError(pid, 'the supervisor is stopping');
      if (!this.has(pid, thread)) throw new ProbeError(pid, 'the isolate exited while sampling');
      throwIfCancelled(pid, window);
    }
  }

  private notice(pid: number, msg: Record<string, unknown>, thread: number): void {
    const probe = this.probes.get(isolateKey(pid, thread));
    if (!probe) return;
    try {
      if (msg.type === 'post-gc' && typeof msg.used === 'number' && typeof msg.at === 'number') {
        probe.lastGc = { used: msg.used, at: msg.at };
        this.opts.onGc?.(pid, probe.lastGc, thread);
      } else if (msg.type === 'sampling' && typeof msg.sampling === 'boolean') {
        probe.sampling = msg.sampling;
        const used = typeof msg.used === 'number' ? mib(msg.used) : undefined;
        this.opts.log.info({ pid, thread, why: msg.why, heap_mb: used }, msg.sampling ? 'inspector: the probe started sampling' : 'inspector: the probe stopped sampling');
      } else if (msg.type === 'worker-oom' && !thread && isPositiveInt(msg.thread)) {
        this.opts.onWorkerOom?.(pid, msg.thread, msg.fatal === true);
      }
    } catch (err) {
      this.opts.log.warn({ pid, thread, type: msg.type, err: (err as Error).message }, 'inspector: notice not taken');
    }
  }

  private async capture(
    pid: number,
    reason: string,
    kind: CaptureKind,
    ro: { timeoutMs: number; totalMs?: number; onProgress?: (done: number, total: number) => void },
    thread = 0,
  ): Promise<string> {
    const pending = await createPendingCapture(this.opts.capturesDir, captureName(pid, thread ? `worker-${thread}-${reason}` : reason, kind));
    try {
      await this.opts.registry.request(pid, { type: 'capture', kind, path: pending.tmpPath }, ro, thread);
    } catch (err) {
      // Whatever the probe wrote is no capture: the partial file goes.
      await pending.abort();
      this.opts.log.warn({ pid, thread, kind, reason, err: (err as Error).message }, 'inspector: capture failed');
      throw err;
    }
    const file = await pending.commit();
    this.opts.log.info({ pid, thread, kind, reason, file }, 'inspector: capture written');
    if (this.opts.retention) {
      const removed = await enforceRetention(this.opts.capturesDir, this.opts.retention);
      if (removed.length > 0) this.opts.log.info({ removed }, 'inspector: old captures removed');
    }
    return file;
  }
}
