/*
 * What the supervisor asks of each linked Bun process, over its inspector link (bun-link.ts), in the shape the
 * sampler and the executor already use for probed node processes (act/executor.ts's Instrumentation):
 * heap readings (`process.memoryUsage()`, evaluated in the process), forced GC (`Heap.gc`), the heap after each
 * full GC (`Heap.garbageCollected` events: the floors the leak trend is fitted on), and heap snapshots
 * (`Heap.snapshot`, a JavaScriptCore snapshot that src/analysis reads like V8's).
 *
 * What JavaScriptCore lacks: a sampling heap profiler, and a heap limit (measured with Bun 1.4.5: neither
 * BUN_JSC_gcMaxHeapSize=100 MB, BUN_JSC_forceRAMSize=200 MB nor BUN_JSC_maxHeapSizeAsRAMSizeMultiple=0.05 stopped
 * a heap growing past 500 MB). So a Bun process's heap is measured against its per-process RSS hard limit, the
 * rule that ends it; a profile asked for by a person is refused with the snapshot to ask for instead, and one
 * the policy wants becomes a snapshot while the heap is small enough to take one quickly.
 *
 * A connected inspector front-end keeps the arguments of the last 100 console messages alive (measured: 300
 * logs of 1 MB kept 90 MB after GC; none without a link): every heap reading and full GC clears them.
 */
import { Refused } from '../../common/errors.js';
import { wholeMb as mib } from '../../common/units.js';
import type { Instrumentation } from '../act/executor.js';
import { captureName, enforceRetention, writeCaptureAtomically, type RetentionOptions } from '../journal/captures.js';
import type { BunLinks, BunRecord } from './bun-link.js';
import type { GcPoint, HeapUsage, Logger } from './sessions.js';
import { DEFAULT_HEADROOM, checkSnapshotHeadroom, type HeadroomFactors } from './snapshot-headroom.js';

export interface BunSessionsOptions {
  links: BunLinks;
  callTimeoutMs: number;
  capturesDir: string;
  log: Logger;
  /** What a Bun heap is measured against (it has no limit of its own): the per-process RSS hard limit. */
  heapLimit: () => number;
  /** A profile the policy asks for becomes a snapshot while the heap used is at most this. */
  autoSnapshotMaxBytes?: number;
  snapshotTimeoutMs?: number;
  headroom?: HeadroomFactors;
  retention?: RetentionOptions;
  onGc?: (pid: number, point: GcPoint) => void;
}

/** Reason of a capture a person asked for (control-adapter.ts). */
const MANUAL = 'manual';
/** At most one post-GC reading per this long per process, as the node probe reports them. */
const GC_POINT_MS = 500;
const MEMORY_USAGE = 'JSON.stringify(process.memoryUsage())';

interface Linked {
  rec: BunRecord;
  lastGc?: GcPoint;
  gcReading: boolean;
}

export class BunSessions implements Instrumentation {
  private readonly linked = new Map<number, Linked>();
  private readonly autoSnapshotMaxBytes: number;
  private readonly snapshotTimeoutMs: number;

  constructor(private readonly opts: BunSessionsOptions) {
    this.autoSnapshotMaxBytes = opts.autoSnapshotMaxBytes ?? 256 * 1024 * 1024;
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 5 * 60_000;
    for (const rec of opts.links.list()) this.attach(rec);
    opts.links.on('link', (rec) => this.attach(rec));
    opts.links.on('exit', (pid) => this.linked.delete(pid));
    opts.links.on('event', (pid, method, params) => {
      if (method === 'Heap.garbageCollected') this.collected(pid, params);
    });
  }

  /** A Bun process is one isolate here: its workers are not linked (`thread` is always the main one). */
  has(pid: number, thread = 0): boolean {
    return thread === 0 && this.linked.has(pid);
  }

  threads(): number[] {
    return [];
  }

  pids(): number[] {
    return [...this.linked.keys()];
  }

  async heap(pid: number): Promise<HeapUsage & { runtime: 'bun' }> {
    const used = await this.usage(pid);
    const lastGc = this.linked.get(pid)?.lastGc;
    return { used: used.heapUsed, total: used.heapTotal, limit: this.opts.heapLimit(), runtime: 'bun', ...(lastGc ? { lastGc } : {}) };
  }

  async gc(pid: number): Promise<{ beforeBytes: number; afterBytes: number }> {
    const before = await this.usage(pid);
    await this.call(pid, 'Heap.gc');
    const after = await this.usage(pid);
    return { beforeBytes: before.heapUsed, afterBytes: after.heapUsed };
  }

  /** Bun has no sampling heap profiler: a person is told to ask for a snapshot; the policy gets one if it is small. */
  async saveProfile(pid: number, reason: string): Promise<string> {
    const snapshotAsk = `cfn-supervise capture --pid ${pid} --snapshot`;
    if (reason === MANUAL) throw new Refused(`pid ${pid} is a Bun process: Bun (JavaScriptCore) has no sampling heap profiler; take a heap snapshot instead: ${snapshotAsk}`);
    const { heapUsed } = await this.usage(pid);
    if (heapUsed > this.autoSnapshotMaxBytes) {
      throw new Refused(
        `pid ${pid} is a Bun process, which has no sampling heap profiler, and its ${mib(heapUsed)} MB heap is over the ${mib(this.autoSnapshotMaxBytes)} MB ` +
          `taken as a snapshot unasked: ${snapshotAsk}`,
      );
    }
    this.opts.log.info({ pid, reason }, 'bun: no sampling heap profiler in Bun; a heap snapshot instead');
    return this.snapshot(pid, reason);
  }

  /** The snapshot comes back whole in one reply, and is written to a 0600 capture file as it arrives. */
  async snapshot(pid: number, reason: string, onProgress?: (done: number, total: number) => void): Promise<string> {
    const { heapUsed } = await this.usage(pid);
    await checkSnapshotHeadroom(pid, heapUsed, this.opts.capturesDir, this.opts.headroom ?? DEFAULT_HEADROOM);
    const reply = await this.opts.links.call<{ snapshotData?: unknown }>(pid, 'Heap.snapshot', {}, { timeoutMs: this.snapshotTimeoutMs, snapshot: true });
    if (typeof reply?.snapshotData !== 'string') throw new Refused(`pid ${pid}: the Bun inspector sent no snapshot`);
    const file = await writeCaptureAtomically(this.opts.capturesDir, captureName(pid, reason, 'heapsnapshot'), reply.snapshotData);
    onProgress?.(reply.snapshotData.length, reply.snapshotData.length);
    this.opts.log.info({ pid, reason, file }, 'bun: heap snapshot written');
    if (this.opts.retention) {
      const removed = await enforceRetention(this.opts.capturesDir, this.opts.retention);
      if (removed.length > 0) this.opts.log.info({ removed }, 'bun: old captures removed');
    }
    return file;
  }

  private attach(rec: BunRecord): void {
    this.linked.set(rec.pid, { rec, gcReading: false });
    this.call(rec.pid, 'Heap.enable').catch((err: Error) => this.opts.log.debug({ pid: rec.pid, err: err.message }, 'bun: Heap.enable failed'));
  }

  /** A full collection: the heap now is a floor. */
  private collected(pid: number, params: Record<string, unknown>): void {
    const l = this.linked.get(pid);
    const type = (params.collection as { type?: unknown } | undefined)?.type;
    if (!l || type !== 'full' || l.gcReading || (l.lastGc && Date.now() - l.lastGc.at < GC_POINT_MS)) return;
    l.gcReading = true;
    const at = Date.now();
    this.usage(pid)
      .then((u) => {
        l.lastGc = { used: u.heapUsed, at };
        this.opts.onGc?.(pid, l.lastGc);
      })
      .catch((err: Error) => this.opts.log.debug({ pid, err: err.message }, 'bun: post-GC reading failed'))
      .finally(() => {
        l.gcReading = false;
      });
  }

  private async usage(pid: number): Promise<{ heapUsed: number; heapTotal: number }> {
    // Before the reading, so the console messages the link keeps alive are not counted.
    this.call(pid, 'Console.clearMessages').catch(() => undefined);
    const r = await this.call<{ result?: { value?: unknown }; wasThrown?: boolean }>(pid, 'Runtime.evaluate', { expression: MEMORY_USAGE, returnByValue: true });
    const value = r?.result?.value;
    const u = !r?.wasThrown && typeof value === 'string' ? (JSON.parse(value) as { heapUsed?: unknown; heapTotal?: unknown }) : undefined;
    if (typeof u?.heapUsed !== 'number' || typeof u.heapTotal !== 'number') throw new Refused(`pid ${pid}: the Bun process gave no memory usage`);
    return { heapUsed: u.heapUsed, heapTotal: u.heapTotal };
  }

  private call<T>(pid: number, method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.opts.links.call<T>(pid, method, params, { timeoutMs: this.opts.callTimeoutMs });
  }
}
