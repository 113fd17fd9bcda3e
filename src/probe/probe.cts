/*
 * Preloaded into every node process of a supervised tree through NODE_OPTIONS (`--require`, which also runs
 * before ESM entry points and in every worker thread: each worker is an isolate of its own, with its own heap and
 * limit, and registers over a connection of its own). Dependency-free; never throws into the app;
 * never keeps its event loop alive; prints nothing on the app's streams.
 *
 * At preload it only starts connecting to the supervisor's socket: a connect completion wakes a loop blocked
 * in poll, so an agent idle at a prompt or on a long timer registers at once (an unref'd immediate does not
 * wake it). The connect is `net`'s, a public API: loading `net` and `worker_threads` (to skip workers) costs
 * ~3.5 ms of CPU at preload on Node 20-26 (median of 21 runs each), where the internal pipe binding it replaces
 * cost ~0.15 ms but is deprecated (a warning under --pending-deprecation). A process that registers loads `net`
 * anyway; one with nothing left to do once connected (`node -e 0`) closes the socket and pays only that.
 * Everything else loads once connected (serve.cts).
 *
 * Transport: the probe does NOT open an inspector port. A websocket CDP client makes Node print
 * "Debugger attached." on the app's stderr at every attach and "Waiting for the debugger to disconnect..."
 * at every exit (measured on Node 20, with --inspect-publish-uid=http too), and a loopback port lets any
 * local user run code in the agent. The probe answers the supervisor over the owner-only unix socket it
 * registers on, and holds an in-process inspector.Session only while something needs one (inspector.cts):
 * while a session is attached every console call goes through the inspector (2.59× slower, measured).
 *
 * Wire protocol v2, newline-delimited JSON both ways; a line over 64 KiB is dropped whole.
 *   probe → supervisor
 *     {"type":"register","v":2,pid,ppid,argv,url?,heapSizeLimit,oldSpaceLimit?,nodeVersion,thread?}   first line
 *                                           thread: the worker's threadId, absent on the main thread
 *     {"type":"reply","id",result?|error?}
 *     {"type":"progress","id",done,total}   snapshot bytes written so far (total 0: unknown)
 *     {"type":"post-gc",used,at}            heap used after a major GC (at: epoch ms); at most one per
 *                                           500 ms, the latest one
 *     {"type":"sampling",sampling,why,used} the probe started or stopped sampling on its own
 *                                           (why: "pressure" | "rising-floor" | "relief")
 *     {"type":"exit","code"}
 *     {"type":"worker-oom","thread",fatal}  (main thread) a Worker of this process died of its heap
 *                                           (ERR_WORKER_OUT_OF_MEMORY); fatal: nothing handles the error, so
 *                                           it ends the process
 *   supervisor → probe (every message also carries "v")
 *     {"type":"config",pressure,samplingInterval,capturesDir}   after register, and whenever one changes
 *         pressure: the fraction of the old-space limit at which the probe starts sampling on its own;
 *         samplingInterval: bytes between samples then (0: never on its own); capturesDir: the only folder
 *         the probe writes into.
 *     {"type":"heap-stats","id"}  → {usedHeapSize,totalHeapSize,heapSizeLimit,mallocedMemory,externalMemory,
 *                                    oldSpaceSize?,oldSpaceUsed?,oldSpaceLimit?,external,arrayBuffers,handles?,
 *                                    sampling,session,lastGc?}   (external, arrayBuffers: process.memoryUsage();
 *                                    handles: process.getActiveResourcesInfo() counted by type)
 *     {"type":"sampling","id",mode,interval?}  → {sampling,wasSampling}
 *         hold: sample (at interval) until released; window: sample afresh from now, until released;
 *         release: end one hold (sampling goes on while pressure asks for it); stop: stop now, and start on
 *         pressure again only once the heap fell back below half the pressure fraction.
 *     {"type":"gc","id"}          → {beforeBytes,afterBytes}   a full collection
 *     {"type":"capture","id",kind:"heapprofile"|"heapsnapshot",path}  → {bytes}
 *         path: an empty regular 0600 file of ours, directly in capturesDir, that the supervisor created; the
 *         probe never creates, truncates or follows a link. A failed write fails the capture.
 *     {"type":"memory-pressure","level"}  → process.emit('cfn-supervise:memory-pressure',{level})
 */
import type { Socket } from 'node:net';

const LOADED = Symbol.for('cfn-supervise.probe');

/*
 * What the probe calls of the runtime, taken at preload, before the app's own code runs. An app may replace a
 * global later (a JSON.stringify that throws for objects it did not mark, a strict Promise.prototype.then, a
 * process.emit that allows only the events it knows, Socket.prototype.write): the probe must neither fail
 * because of that nor throw into the app, so it calls these copies, as Node's own internals keep their
 * primordials. The probe uses no promises. Kept here rather than in a module of their own, which would cost
 * every process ~0.35 ms more at preload (measured); the other modules take them from this one, already loaded.
 */

export const ReflectApply = Reflect.apply;
export const JSONStringify = JSON.stringify;
export const JSONParse = JSON.parse;
export const SafeSetTimeout = setTimeout;
export const SafeClearTimeout = clearTimeout;
export const SafeSetImmediate = setImmediate;
const processEmit = process.emit;
const bufferFrom = Buffer.from;

export function emitOnProcess(event: string, payload: unknown): void {
  ReflectApply(processEmit, process, [event, payload]);
}

export function utf8(text: string): Buffer {
  return ReflectApply(bufferFrom, Buffer, [text, 'utf8']) as Buffer;
}

interface WorkerLike {
  threadId: number;
  on(event: symbol, listener: (err: unknown) => void): unknown;
  listenerCount(event: string): number;
}

type WorkerOom = (thread: number, fatal: boolean) => void;
/** Worker OOMs seen before the probe connected, for serve.cts to send; a few at most. */
const earlyOoms: [thread: number, fatal: boolean][] = [];
let workerOomSink: WorkerOom = (thread, fatal) => {
  if (earlyOoms.length < 16) earlyOoms.push([thread, fatal]);
};

/** serve.cts takes the worker OOMs over once connected, those seen before first. */
export function onWorkerOom(sink: WorkerOom): void {
  workerOomSink = sink;
  for (const [thread, fatal] of earlyOoms.splice(0)) sink(thread, fatal);
}

/**
 * Watches, from preload on (an app creates its workers before the probe connects), the Workers of this process
 * for ERR_WORKER_OUT_OF_MEMORY. Their errors are seen through `events.errorMonitor`, which leaves the app's
 * handling as it is: an 'error' listener would turn an unhandled worker OOM, which ends the process, into a
 * handled one. `process.on('worker')` is emitted for each new Worker (node >= 16). Fatal: nothing handles the
 * error (no 'error' listener on the Worker, no 'uncaughtException' one), so the process ends with it.
 */
function watchWorkerOoms(): void {
  const { errorMonitor } = require('node:events') as typeof import('node:events');
  process.on('worker', (worker: WorkerLike) => {
    try {
      // Read now: a Worker's threadId is -1 once it has ended (measured on Node 20).
      const thread = worker.threadId;
      worker.on(errorMonitor, (err) => {
        try {
          if ((err as { code?: unknown } | null)?.code !== 'ERR_WORKER_OUT_OF_MEMORY') return;
          workerOomSink(thread, worker.listenerCount('error') === 0 && process.listenerCount('uncaughtException') === 0);
        } catch {
          // A monitor that throws would be the app's exception.
        }
      });
    } catch {
      // A Worker the app replaced: its OOMs go unseen.
    }
  });
}

export function isWorkerThread(): boolean {
  return !(require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}

/**
 * A process whose loop has nothing else to do is on its way out (`node -e 0`, `node --version`): registering
 * would only add the cost of loading the rest of the probe to its exit.
 */
function worthServing(): boolean {
  try {
    const alive = process.getActiveResourcesInfo();
    // Ours is still listed while its completion runs.
    const ours = alive.indexOf('ConnectWrap');
    if (ours >= 0) alive.splice(ours, 1);
    return alive.length > 0;
  } catch {
    return true;
  }
}

/** Socket.prototype.write as it was at preload. */
let writeToSocket: ((this: Socket, data: Buffer) => boolean) | undefined;

/** Writes through the socket's own write as it was at preload: the kernel takes it at once when it can. */
export function socketWrite(socket: Socket, data: Buffer): void {
  ReflectApply(writeToSocket!, socket, [data]);
}

function connect(socketPath: string): void {
  const net = require('node:net') as typeof import('node:net');
  writeToSocket = net.Socket.prototype.write;
  const socket = net.createConnection(socketPath);
  socket.unref();
  socket.on('error', () => socket.destroy());
  // Called from the loop with no JavaScript frame of the app below it: anything thrown here would be its crash.
  socket.once('connect', () => {
    try {
      if (worthServing()) (require('./serve.cjs') as typeof import('./serve.cjs')).serve(socket);
      else socket.destroy();
    } catch {
      socket.destroy();
    }
  });
}

try {
  const socketPath = process.env.CFN_SUPERVISE_SOCKET;
  const g = globalThis as Record<symbol, unknown>;
  if (socketPath && !g[LOADED]) {
    g[LOADED] = true;
    if (!isWorkerThread()) watchWorkerOoms();
    connect(socketPath);
  }
} catch {
  // The probe must never break the app it rides in.
}
