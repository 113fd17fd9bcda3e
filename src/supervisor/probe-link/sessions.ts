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
 * fallback. Not covered: worker threads (the probe skips them; their heaps are not in the parent's figures).
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
import type { ProcessRecord, Registry } from './registry.js';
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
  onGc?: (pid: number, point: GcPoint) => void;
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
  private readonly probes = new Map<number, Probe>();
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
    opts.registry.on('exit', (pid) => this.probes.delete(pid));
    opts.registry.on('notice', (pid, msg) => this.notice(pid, msg));
  }

  /** Takes a registered process on: its probe learns the pressure fraction, sampling interval and captures folder. */
  async attach(rec: ProcessRecord): Promise<void> {
    if (this.probes.has(rec.pid)) return;
    if (this.probes.size >= this.maxSessions) {
      this.opts.log.warn({ pid: rec.pid, max: this.maxSessions }, 'inspector: too many node processes, not attaching');
      return;
    }
    this.probes.set(rec.pid, { rec, sampling: false });
    if (!this.configure(rec.pid)) {
      this.probes.delete(rec.pid);
      throw new ProbeError(rec.pid, 'config: probe is not reading');
    }
    this.opts.log.debug({ pid: rec.pid }, 'inspector: attached');
  }

  /** The pressure fraction changed at run time (the warning level): every probe hears of it. */
  setPressure(fraction: number): void {
    this.pressure = fraction;
    for (const pid of this.probes.keys()) this.configure(pid);
  }

  has(pid: number): boolean {
    return this.probes.has(pid);
  }

  async heap(pid: number): Promise<HeapUsage> {
    const { rec } = this.probe(pid);
    const s = await this.heapStats(pid);
    return {
      used: s.usedHeapSize,
      total: s.totalHeapSize,
      limit: rec.heapSizeLimit,
      ...(rec.oldSpaceLimit === undefined ? {} : { oldSpaceLimit: rec.oldSpaceLimit }),
      sampling: s.sampling,
      ...(s.lastGc ? { lastGc: s.lastGc } : {}),
      ...(s.external === undefined ? {} : { external: s.external }),
      ...(s.arrayBuffers === undefined ? {} : { arrayBuffers: s.arrayBuffers }),
      ...(s.handles ? { handles: s.handles } : {}),
    };
  }

  /** V8 heap statistics with the old space's size and limit, and the probe's own state. */
  async heapStats(pid: number): Promise<HeapStats> {
    const probe = this.probe(pid);
    const s = await this.request<HeapStats>(pid, { type: 'heap-stats' });
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
  async saveProfile(pid: number, reason: string, { window, coldSeconds = this.defaultWindowSeconds }: ProfileOptions = {}): Promise<string> {
    this.probe(pid);
    const { wasSampling } = await this.sampling(pid, window ? 'window' : 'hold');
    try {
      if (!window && !wasSampling) {
        this.opts.log.info({ pid, reason, seconds: coldSeconds }, 'inspector: the process was not sampling; sampling before the profile');
      }
      await this.wait(pid, window?.seconds ?? (wasSampling ? 0 : coldSeconds), window);
      return await this.capture(pid, reason, 'heapprofile', { timeoutMs: this.opts.callTimeoutMs });
    } finally {
      // Sampling goes on if the probe's own pressure asks for it.
      if (this.probes.has(pid)) this.sampling(pid, 'release').catch((err: Error) => this.opts.log.debug({ pid, err: err.message }, 'inspector: sampling release failed'));
    }
  }

  /**
   * Streams a heap snapshot to disk: the probe writes each chunk into the capture file as V8 produces it,
   * so nothing of it passes through this process. Refused when the machine lacks the memory or the disk to
   * take it. `onProgress(bytesWritten, 0)`: the total size is not known before the end.
   */
  async snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void): Promise<string> {
    const stats = await this.heapStats(pid);
    const reservation = await checkSnapshotHeadroom(pid, stats.usedHeapSize, this.opts.capturesDir, this.headroom);
    try {
      return await this.capture(pid, reason, 'heapsnapshot', {
        timeoutMs: this.snapshotIdleTimeoutMs,
        totalMs: this.snapshotTimeoutMs,
        onProgress: reservedProgress(reservation, onProgress),
      });
    } finally {
      reservation.release();
    }
  }

  async gc(pid: number): Promise<{ beforeBytes: number; afterBytes: number }> {
    this.probe(pid);
    return this.request(pid, { type: 'gc' });
  }

  /**
   * Stops waiting on every process: captures, GCs and sampling windows in flight fail at once, so a stop can
   * call this first and never wait on a probe. Sampling in the probes stops when the registry closes.
   */
  closeAll(): void {
    this.closing.abort();
    this.probes.clear();
    this.opts.registry.abortPending('the supervisor is stopping');
  }

  private probe(pid: number): Probe {
    const p = this.probes.get(pid);
    if (!p) throw new ProbeError(pid, 'no probe registered');
    return p;
  }

  private configure(pid: number): boolean {
    return this.opts.registry.send(pid, {
      type: 'config',
      pressure: this.pressure,
      samplingInterval: this.opts.samplingInterval,
      capturesDir: this.opts.capturesDir,
    });
  }

  private request<T>(pid: number, msg: Record<string, unknown>): Promise<T> {
    return this.opts.registry.request<T>(pid, msg, { timeoutMs: this.opts.callTimeoutMs });
  }

  private async sampling(pid: number, mode: 'hold' | 'window' | 'release' | 'stop'): Promise<{ sampling: boolean; wasSampling: boolean }> {
    const interval = this.opts.samplingInterval || DEFAULT_SAMPLING_INTERVAL;
    const r = await this.request<{ sampling: boolean; wasSampling: boolean }>(pid, { type: 'sampling', mode, interval });
    const probe = this.probes.get(pid);
    if (probe) probe.sampling = r.sampling;
    return r;
  }

  private async wait(pid: number, seconds: number, window?: SamplingWindow): Promise<void> {
    for (let s = 0; s < seconds; s++) {
      window?.onSecond?.(s);
      await sleep(1000, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closing.signal.aborted) throw new ProbeError(pid, 'the supervisor is stopping');
      if (!this.probes.has(pid)) throw new ProbeError(pid, 'the process exited while sampling');
      throwIfCancelled(pid, window);
    }
  }

  private notice(pid: number, msg: Record<string, unknown>): void {
    const probe = this.probes.get(pid);
    if (!probe) return;
    if (msg.type === 'post-gc' && typeof msg.used === 'number' && typeof msg.at === 'number') {
      probe.lastGc = { used: msg.used, at: msg.at };
      try {
        this.opts.onGc?.(pid, probe.lastGc);
      } catch (err) {
        this.opts.log.warn({ pid, err: (err as Error).message }, 'inspector: post-GC point not taken');
      }
    } else if (msg.type === 'sampling' && typeof msg.sampling === 'boolean') {
      probe.sampling = msg.sampling;
      const used = typeof msg.used === 'number' ? mib(msg.used) : undefined;
      this.opts.log.info({ pid, why: msg.why, heap_mb: used }, msg.sampling ? 'inspector: the probe started sampling' : 'inspector: the probe stopped sampling');
    }
  }

  private async capture(
    pid: number,
    reason: string,
    kind: CaptureKind,
    ro: { timeoutMs: number; totalMs?: number; onProgress?: (done: number, total: number) => void },
  ): Promise<string> {
    const pending = await createPendingCapture(this.opts.capturesDir, captureName(pid, reason, kind));
    try {
      await this.opts.registry.request(pid, { type: 'capture', kind, path: pending.tmpPath }, ro);
    } catch (err) {
      // Whatever the probe wrote is no capture: the partial file goes.
      await pending.abort();
      this.opts.log.warn({ pid, kind, reason, err: (err as Error).message }, 'inspector: capture failed');
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
}
