/*
 * Preloaded into every node process of a supervised tree through NODE_OPTIONS (`--require`, which also runs
 * before ESM entry points and in worker threads, which it skips). Dependency-free; never throws into the app;
 * never keeps its event loop alive; prints nothing on the app's streams.
 *
 * At preload it only starts connecting to the supervisor's socket: a connect completion wakes a loop blocked
 * in poll, so an agent idle at a prompt or on a long timer registers at once (an unref'd immediate does not
 * wake it). The connect goes through the pipe binding: loading `net` costs ~5 ms of CPU (measured on Node 20),
 * the binding ~0.4 ms; `net` is loaded once the supervisor answered, and is the fallback wherever the binding
 * is missing, forbidden (permission model) or would print a deprecation warning (--pending-deprecation).
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
 *     {"type":"register","v":2,pid,ppid,argv,url?,heapSizeLimit,oldSpaceLimit?,nodeVersion}   first line
 *     {"type":"reply","id",result?|error?}
 *     {"type":"progress","id",done,total}   snapshot bytes written so far (total 0: unknown)
 *     {"type":"post-gc",used,at}            heap used after a major GC (at: epoch ms); at most one per
 *                                           500 ms, the latest one
 *     {"type":"sampling",sampling,why,used} the probe started or stopped sampling on its own
 *                                           (why: "pressure" | "rising-floor" | "relief")
 *     {"type":"exit","code"}
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
const LOADED = Symbol.for('cfn-supervise.probe');

/*
 * What the probe calls of the runtime, taken at preload, before the app's own code runs. An app may replace a
 * global later (a JSON.stringify that throws for objects it did not mark, a strict Promise.prototype.then, a
 * process.emit that allows only the events it knows): the probe must neither fail because of that nor throw
 * into the app, so it calls these copies, as Node's own internals keep their primordials. Only what node has
 * already loaded at preload is taken: `net` is not (loading it would cost every process ~3 ms), so the probe
 * writes its lines straight to its socket's descriptor and never through Socket.prototype.write (serve.cts).
 * The probe uses no promises. Kept here rather than in a module of their own, which would cost every process
 * ~0.35 ms more at preload (measured); the other modules take them from this one, already loaded.
 */

export const ReflectApply = Reflect.apply;
export const JSONStringify = JSON.stringify;
export const JSONParse = JSON.parse;
export const SafeSetTimeout = setTimeout;
export const SafeClearTimeout = clearTimeout;
export const SafeSetImmediate = setImmediate;
export const FsWriteSync = (require('node:fs') as typeof import('node:fs')).writeSync;
const processEmit = process.emit;
const bufferFrom = Buffer.from;

export function emitOnProcess(event: string, payload: unknown): void {
  ReflectApply(processEmit, process, [event, payload]);
}

export function utf8(text: string): Buffer {
  return ReflectApply(bufferFrom, Buffer, [text, 'utf8']) as Buffer;
}

interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  constants: { SOCKET: number };
}
export interface PipeHandle {
  connect(req: object, path: string): number;
  unref(): void;
  close(): void;
}

/** Worker threads replace process.chdir with a stub marked `disabled`; requiring worker_threads to ask costs ~3 ms. */
function isMainThread(): boolean {
  return !(process.chdir as { disabled?: boolean }).disabled;
}

function pendingDeprecation(): boolean {
  const flag = '--pending-deprecation';
  return process.execArgv.includes(flag) || (process.env.NODE_OPTIONS ?? '').includes(flag) || process.env.NODE_PENDING_DEPRECATION === '1';
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

function connected(handleOrSocket: PipeHandle | import('node:net').Socket): void {
  (require('./serve.cjs') as typeof import('./serve.cjs')).serve(handleOrSocket);
}

function connectThroughBinding(socketPath: string): boolean {
  const { binding: load } = process as unknown as { binding?: (name: string) => unknown };
  if (pendingDeprecation() || typeof load !== 'function') return false;
  let handle: PipeHandle;
  let req: { oncomplete?: (status: number) => void };
  try {
    const binding = Reflect.apply(load, process, ['pipe_wrap']) as PipeBinding;
    handle = new binding.Pipe(binding.constants.SOCKET);
    req = new binding.PipeConnectWrap();
  } catch {
    return false;
  }
  const close = (): void => {
    try {
      handle.close();
    } catch {
      // Already closed by the socket that took it over.
    }
  };
  // Called from the loop with no JavaScript frame below it: anything thrown here would be the app's crash.
  req.oncomplete = (status) => {
    try {
      if (status === 0 && worthServing()) connected(handle);
      else close();
    } catch {
      close();
    }
  };
  if (handle.connect(req, socketPath) !== 0) close();
  else handle.unref();
  return true;
}

function connectThroughNet(socketPath: string): void {
  const socket = (require('node:net') as typeof import('node:net')).createConnection(socketPath);
  socket.unref();
  socket.on('error', () => socket.destroy());
  socket.once('connect', () => {
    try {
      if (worthServing()) connected(socket);
      else socket.destroy();
    } catch {
      socket.destroy();
    }
  });
}

try {
  const socketPath = process.env.CFN_SUPERVISE_SOCKET;
  const g = globalThis as Record<symbol, unknown>;
  if (socketPath && isMainThread() && !g[LOADED]) {
    g[LOADED] = true;
    if (!connectThroughBinding(socketPath)) connectThroughNet(socketPath);
  }
} catch {
  // The probe must never break the app it rides in.
}
