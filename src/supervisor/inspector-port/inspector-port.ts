/*
 * The second way into a node process: its inspector port, for processes the probe cannot reach (an agent
 * started before and outside the supervisor, a child whose NODE_OPTIONS was stripped). SIGUSR1 makes node open
 * its inspector on 127.0.0.1 (port 9229 unless the process was given --inspect-port); the port it really opened
 * is read through the platform seam (platform/); chrome-remote-interface, the only websocket CDP client of the project,
 * attaches; the work is done; the session disconnects; and the inspector we opened is closed again.
 *
 * The price, printed by node on the target's stderr (measured, Node 20.20.2; 22, 24 and 26 print the same),
 * where the probe prints nothing:
 *   on SIGUSR1          Debugger listening on ws://127.0.0.1:9229/<uuid>
 *                       For help, see: https://nodejs.org/en/docs/inspector   (22 and later: another page)
 *   9229 already taken  Starting inspector on 127.0.0.1:9229 failed: address already in use   (twice per signal)
 *   on attach           Debugger attached.
 *   on detach           nothing: the inspector is closed from inside the session (below)
 *   exit while attached Waiting for the debugger to disconnect...   (node then waits for the client: the session
 *                       asks to be told, NodeRuntime.waitingForDisconnect, and disconnects at once)
 * An app that had opened its inspector itself sees `Debugger attached.` and, on detach, `Debugger ending on
 * ws://...` and `For help, see: ...`; its inspector stays open. Those two lines also appear when our connection
 * ends without the close from inside (this process died mid-session, or the target did not answer the detach).
 *
 * Closing, measured: `inspector.close()` scheduled to run just after our last reply, while the client
 * disconnects, crashed Node 20 now and then (SIGSEGV, 1 round in 45: the target's io thread ends our session
 * while its main thread stops the server). Run synchronously inside our last call instead, node ends our
 * connection itself and nothing races it (0 crashes in 300 rounds, idle and spinning targets), and it prints
 * nothing more. That needs a target that answers; for one that does not (blocked outside JavaScript) and for
 * this process dying mid-session, a fallback closer is armed in the target right after attaching: an unref'd
 * timer that looks every 2 s and closes the inspector after two looks in a row find no connection to it: on
 * Linux it reads /proc/self/net/tcp{,6} (platform/linux/sockets.ts); where there is no /proc (macOS) the
 * session renews a lease every second instead, and a look with no renewal since the last counts as none. A blocked target therefore keeps the port until it runs again; one blocked when
 * signalled opens it only then, with no closer, and keeps it until it exits. Pure JavaScript loops block
 * nothing here: node serves CDP between their instructions (V8 interrupts). A fallback closer guards only the
 * inspector it was armed in (its url, with a fresh uuid at every opening, names it).
 *
 * Not reachable this way: an app that listens to SIGUSR1 itself (its listener replaces node's: the signal goes
 * to the app, which may act on it, and no inspector opens), a process in another network namespace, worker
 * threads (the main thread's heap only).
 *
 * While attached, the session makes V8 keep console.log arguments (README): every heap reading discards them.
 */
import { closeSync, constants, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CfnError, ProbeError, TimeoutError, errorMessage } from '../../common/errors.js';
import { within } from '../../common/deadline.js';
import { openPrivateFile } from '../../common/statedir.js';
import { MB } from '../../common/units.js';
import { platform, readStat } from '../../platform/index.js';
import { defaultHeapLimit } from '../../config/environment.js';
import { captureName, type Capture, type CaptureKind, type CapturesFolder } from '../journal/captures.js';
import type { HeapStats, HeapUsage } from '../probe-link/probe-sessions.js';
import { listenersOf } from '../../platform/index.js';
import { checkSnapshotHeadroom, reservedProgress } from '../probe-link/snapshot-headroom.js';
import { snapshotLimits } from '../probe-link/snapshot-time.js';
import { checkTarget, cdp, openInspector, type CdpClient, type Endpoint } from './inspector-open.js';
import { CLOSER_LEASE_MS, CLOSE_SOURCE, RENEW_SOURCE, STATS_SOURCE, closerSource } from './inspector-scripts.js';

export interface InspectorPortOptions {
  /** Bound of every CDP call (and of connecting). */
  callTimeoutMs: number;
  /** Bound of opening the inspector: signal, port, first answer. */
  openTimeoutMs: number;
  /** A snapshot is abandoned after this long without a chunk (building one pauses the process for seconds). */
  snapshotIdleTimeoutMs?: number;
}

/** `--heap-prof`'s format: what HeapProfiler.getSamplingProfile answers in `profile`. */
export interface SamplingHeapProfile {
  head: object;
  samples?: object[];
}

export type SessionEnd = 'exited' | 'disconnected' | 'detached';

/** What became of the inspector when the session ended. */
export type InspectorFate = 'closed' | 'kept-open-by-app' | 'still-open' | 'process-gone';

export interface InspectorHandle {
  readonly pid: number;
  /** The address and port the inspector listens on. */
  readonly host: string;
  readonly port: number;
  /** The app had its inspector open before: it stays open after close(). */
  readonly openedByApp: boolean;
  /** Settles when the session ends: detached by close(), the process exited, or its inspector went away. */
  readonly ended: Promise<SessionEnd>;
  heapUsage(): Promise<HeapUsage>;
  heapStats(): Promise<HeapStats>;
  startSampling(intervalBytes: number): Promise<void>;
  /** Everything sampled since startSampling. */
  samplingProfile(): Promise<SamplingHeapProfile>;
  stopSampling(): Promise<void>;
  /** Streams a heap snapshot into `file`, which must exist, be ours and be 0600. `onProgress(bytesWritten, 0)`. */
  /** `usedHeapBytes` sets how long V8 may build it before its first chunk (snapshot-time.ts). */
  snapshotTo(file: string, usedHeapBytes: number, onProgress?: (done: number, total: number) => void): Promise<{ bytes: number }>;
  collectGarbage(): Promise<{ beforeBytes: number; afterBytes: number }>;
  /** Disconnects (always, also after errors) and waits for the inspector we opened to close. Idempotent. */
  close(): Promise<InspectorFate>;
}


const POLL_MS = 20;
const SNAPSHOT_IDLE_MS = 60_000;
/** A full GC of a large heap takes seconds: bounded, but not by the quick calls' timeout. */
const GC_TIMEOUT_MS = 30_000;



async function connect(pid: number, endpoint: Endpoint, timeoutMs: number): Promise<CdpClient> {
  const pending = cdp()({ host: endpoint.host, port: endpoint.port, local: true, target: endpoint.wsUrl });
  try {
    return await within(pending, timeoutMs, () => new TimeoutError(pid, 'connecting to its inspector', timeoutMs));
  } catch (err) {
    // A connection that completes after the deadline must still be closed, or the target would wait for it at exit.
    pending.then((c) => c.close(), () => undefined).catch(() => undefined);
    if (err instanceof CfnError) throw err;
    throw new ProbeError(pid, `cannot connect to its inspector on ${endpoint.host}:${endpoint.port}: ${errorMessage(err)}`);
  }
}

interface RawStats extends Omit<HeapStats, 'oldSpaceLimit'> {
  nodeOptions: string;
  execArgv: string[];
}

interface Evaluated {
  result: { value?: unknown; objectId?: string };
  exceptionDetails?: { text?: string; exception?: { description?: string } };
}

class PortSession implements InspectorHandle {
  readonly ended: Promise<SessionEnd>;
  private end?: SessionEnd;
  private settle!: (end: SessionEnd) => void;
  /** Our own close request is under way: the connection drop that follows is the detach. */
  private closingInside = false;
  private heapProfiler = false;
  private limits?: { limit: number; oldSpaceLimit?: number };
  private closing?: Promise<InspectorFate>;
  /** Renews the fallback closer's lease where the target cannot see our connection (platform: no /proc). */
  private lease?: NodeJS.Timeout;
  /** One renewal in flight at most: a blocked target does not pile them up. */
  private renewing = false;

  constructor(
    readonly pid: number,
    private readonly client: CdpClient,
    private readonly endpoint: Endpoint,
    readonly openedByApp: boolean,
    private readonly opts: InspectorPortOptions,
  ) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
    client.on('disconnect', () => this.finish(this.closingInside ? 'detached' : 'disconnected'));
    client.on('NodeRuntime.waitingForDisconnect', () => {
      // The process is exiting and waits for us: let it go at once.
      this.finish('exited');
      client.close().catch(() => undefined);
    });
  }

  get host(): string {
    return this.endpoint.host;
  }

  get port(): number {
    return this.endpoint.port;
  }

  async start(): Promise<void> {
    // First, so that whatever fails later, the inspector we opened closes once we are gone.
    if (!this.openedByApp) await this.armCloser();
    await this.call('NodeRuntime.notifyWhenWaitingForDisconnect', { enabled: true });
    const stats = await this.heapStats();
    this.limits = { limit: stats.heapSizeLimit, ...(stats.oldSpaceLimit === undefined ? {} : { oldSpaceLimit: stats.oldSpaceLimit }) };
  }

  async heapUsage(): Promise<HeapUsage> {
    const [u] = await Promise.all([
      this.call<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage'),
      this.call('Runtime.discardConsoleEntries'),
    ]);
    return { used: u.usedSize, total: u.totalSize, limit: this.limits?.limit ?? 0, ...(this.limits?.oldSpaceLimit === undefined ? {} : { oldSpaceLimit: this.limits.oldSpaceLimit }) };
  }

  async heapStats(): Promise<HeapStats> {
    const { nodeOptions, execArgv, ...stats } = (await this.evaluate(STATS_SOURCE)) as RawStats;
    // Command-line flags override NODE_OPTIONS, as node reads them: the last one found wins.
    const mb = defaultHeapLimit(execArgv.join(' ')) ?? defaultHeapLimit(nodeOptions);
    return { ...stats, ...(mb === undefined ? {} : { oldSpaceLimit: mb * MB }) };
  }

  async startSampling(intervalBytes: number): Promise<void> {
    await this.enableHeapProfiler();
    await this.call('HeapProfiler.startSampling', { samplingInterval: intervalBytes });
  }

  async samplingProfile(): Promise<SamplingHeapProfile> {
    return (await this.call<{ profile: SamplingHeapProfile }>('HeapProfiler.getSamplingProfile')).profile;
  }

  async stopSampling(): Promise<void> {
    await this.call('HeapProfiler.stopSampling');
  }

  async collectGarbage(): Promise<{ beforeBytes: number; afterBytes: number }> {
    await this.enableHeapProfiler();
    const before = await this.heapUsage();
    await this.call('HeapProfiler.collectGarbage', undefined, Math.max(this.opts.callTimeoutMs, GC_TIMEOUT_MS));
    const after = await this.heapUsage();
    return { beforeBytes: before.used, afterBytes: after.used };
  }

  async snapshotTo(file: string, usedHeapBytes: number, onProgress?: (done: number, total: number) => void): Promise<{ bytes: number }> {
    await this.enableHeapProfiler();
    const { idleMs } = snapshotLimits(usedHeapBytes, { idleMs: this.opts.snapshotIdleTimeoutMs ?? SNAPSHOT_IDLE_MS, totalMs: 0 });
    // No O_CREAT: only a file the caller made private is written.
    const fd = openPrivateFile(file, constants.O_WRONLY | constants.O_TRUNC);
    let bytes = 0;
    let onChunk: ((p: { chunk: string }) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const arm = () => {
          clearTimeout(timer);
          timer = setTimeout(() => reject(new TimeoutError(this.pid, 'heap snapshot', idleMs)), idleMs);
        };
        onChunk = (p) => {
          try {
            bytes += writeSync(fd, p.chunk);
          } catch (err) {
            reject(err);
            return;
          }
          arm();
          onProgress?.(bytes, 0);
        };
        this.client.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
        arm();
        this.ended.then((end) => reject(this.lostError('HeapProfiler.takeHeapSnapshot', end)), () => undefined);
        this.client.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false }).then(
          () => resolve(),
          (err: unknown) => reject(this.callError('HeapProfiler.takeHeapSnapshot', err)),
        );
      });
      return { bytes };
    } finally {
      clearTimeout(timer);
      if (onChunk) this.client.removeListener('HeapProfiler.addHeapSnapshotChunk', onChunk);
      closeSync(fd);
    }
  }

  close(): Promise<InspectorFate> {
    return (this.closing ??= this.detach());
  }

  private async detach(): Promise<InspectorFate> {
    let answering = false;
    if (this.end === undefined) {
      answering = await this.call('Runtime.discardConsoleEntries').then(
        () => true,
        () => false,
      );
      if (answering && !this.openedByApp) await this.closeInside();
      this.finish('detached');
      // Nothing to do when node already ended the connection.
      await within(this.client.close(), this.opts.callTimeoutMs, () => new Error('close')).catch(() => undefined);
    }
    if (this.openedByApp) return 'kept-open-by-app';
    // A target that did not answer is not waited for: its fallback closer acts once it runs again.
    const deadline = Date.now() + (answering ? this.opts.callTimeoutMs : 0);
    for (;;) {
      const listeners = listenersOf(this.pid);
      // A process killed a moment ago closes its files before it is a zombie: its socket is gone, not closed.
      const stat = readStat(this.pid);
      if (!listeners || !stat || stat.state === 'Z' || stat.exiting) return 'process-gone';
      if (!listeners.some((l) => l.inode === this.endpoint.inode)) return 'closed';
      if (Date.now() >= deadline) return 'still-open';
      await sleep(POLL_MS);
    }
  }

  /** Closes the inspector from inside our own call and waits for node to drop the connection. */
  private async closeInside(): Promise<void> {
    this.closingInside = true;
    // Normally it gets no reply: the connection goes first. A reply means nothing was closed (closed already).
    const replied = this.client.send('Runtime.evaluate', { expression: CLOSE_SOURCE, includeCommandLineAPI: true, silent: true }).catch(() => undefined);
    await within(Promise.race([this.ended, replied]), this.opts.callTimeoutMs, () => new Error('not closed')).catch(() => undefined);
  }

  /** The fallback closer, watching the connection itself where the platform can tell it, else on a lease. */
  private async armCloser(): Promise<void> {
    const held = platform().inspectorHeldSource(this.port);
    if (held) {
      await this.evaluate(closerSource(held));
      return;
    }
    const { objectId } = await this.evaluateRef(closerSource());
    if (!objectId || this.end !== undefined) return;
    this.lease = setInterval(() => {
      if (this.renewing) return;
      this.renewing = true;
      this.client
        .send('Runtime.callFunctionOn', { objectId, functionDeclaration: RENEW_SOURCE, silent: true })
        .catch(() => undefined)
        .finally(() => (this.renewing = false));
    }, CLOSER_LEASE_MS);
    this.lease.unref();
  }

  private finish(end: SessionEnd): void {
    clearInterval(this.lease);
    if (this.end !== undefined) return;
    this.end = end;
    this.settle(end);
  }

  private async enableHeapProfiler(): Promise<void> {
    if (this.heapProfiler) return;
    await this.call('HeapProfiler.enable');
    this.heapProfiler = true;
  }

  private async evaluate(expression: string): Promise<unknown> {
    return (await this.evaluateRef(expression, true)).value;
  }

  /** The result as a reference (an objectId), or with `byValue` as its value. */
  private async evaluateRef(expression: string, byValue = false): Promise<Evaluated['result']> {
    const r = await this.call<Evaluated>('Runtime.evaluate', { expression, includeCommandLineAPI: true, returnByValue: byValue, silent: true });
    if (r.exceptionDetails) {
      throw new ProbeError(this.pid, `evaluation failed: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text ?? 'exception'}`);
    }
    return r.result;
  }

  private lostError(method: string, end: SessionEnd): ProbeError {
    const why = end === 'exited' ? 'the process exited' : end === 'detached' ? 'the session was closed' : 'its inspector connection closed';
    return new ProbeError(this.pid, `${method}: ${why}`);
  }

  private callError(method: string, err: unknown): Error {
    if (err instanceof CfnError) return err;
    if (this.end !== undefined) return this.lostError(method, this.end);
    return new ProbeError(this.pid, `${method}: ${errorMessage(err)}`);
  }

  private async call<T = unknown>(method: string, params?: object, timeoutMs = this.opts.callTimeoutMs): Promise<T> {
    if (this.end !== undefined) throw this.lostError(method, this.end);
    try {
      return (await within(this.client.send(method, params), timeoutMs, () => new TimeoutError(this.pid, method, timeoutMs))) as T;
    } catch (err) {
      throw this.callError(method, err);
    }
  }
}

/**
 * Attaches to node process `pid` over its inspector port, opening it with SIGUSR1 when needed. Refuses, with
 * TargetRefused or InspectorUnavailable, what is not a node process of ours or cannot be opened. Whatever
 * happens, no session is left connected: the handle's close() disconnects, and an attach that fails does too.
 */
export async function attachInspector(pid: number, opts: InspectorPortOptions): Promise<InspectorHandle> {
  checkTarget(pid);
  const { endpoint, openedByApp } = await openInspector(pid, opts);
  const client = await connect(pid, endpoint, opts.callTimeoutMs);
  const session = new PortSession(pid, client, endpoint, openedByApp, opts);
  try {
    await session.start();
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}

/**
 * Writes a capture of the attached process into `captures` under its capture name, only once complete: a profile of
 * what was sampled since startSampling, or a snapshot streamed as V8 produces it, refused up front when the
 * machine cannot afford it (snapshot-headroom.ts). A failed write leaves no file.
 */
export async function saveCapture(
  inspector: InspectorHandle,
  captures: CapturesFolder,
  reason: string,
  kind: CaptureKind,
  onProgress?: (done: number, total: number) => void,
): Promise<Capture> {
  const name = captureName(inspector.pid, reason, kind);
  if (kind === 'heapprofile') return captures.write(name, JSON.stringify(await inspector.samplingProfile()));
  const used = (await inspector.heapStats()).usedHeapSize;
  const reservation = await checkSnapshotHeadroom(inspector.pid, used, captures.dir);
  try {
    return await captures.take(name, async (tmpPath) => (await inspector.snapshotTo(tmpPath, used, reservedProgress(reservation, onProgress))).bytes);
  } finally {
    reservation.release();
  }
}
