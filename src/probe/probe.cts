/*
 * Preloaded into every node process of a supervised tree through NODE_OPTIONS (`--require`, which also runs
 * before ESM entry points and in worker threads, which it skips). Dependency-free; never throws into the
 * app; never keeps its event loop alive. Its work starts on the first turn of the event loop (an unref'd
 * immediate), so the preload itself costs ~0.5 ms and a process that never reaches its loop is untouched.
 *
 * Transport: the probe does NOT open an inspector port. A websocket CDP client makes Node print
 * "Debugger attached." on the app's stderr at every attach and "Waiting for the debugger to disconnect..."
 * at every exit (measured on Node 20, with --inspect-publish-uid=http too), and a loopback port lets any
 * local user run code in the agent. Instead the probe holds an in-process inspector.Session and serves the
 * supervisor's CDP calls over the owner-only unix socket it registers on. In-process sessions never delay
 * exit and print nothing.
 *
 * Wire protocol v1, newline-delimited JSON both ways:
 *   probe → supervisor  {"type":"register","v":1,pid,ppid,argv,url?,heapSizeLimit,oldSpaceLimit?,nodeVersion}
 *                       {"type":"reply","id",result?|error?}
 *                       {"type":"progress","id",done,total}  (snapshot bytes written so far; total 0 = unknown)
 *                       {"type":"exit","code"}
 *   supervisor → probe  {"type":"cdp","id",method,params?}   (allow-listed heap methods only)
 *                       {"type":"heap-stats","id"}
 *                       {"type":"capture","id",kind:"heapprofile"|"heapsnapshot",path}  (path: a 0600 file
 *                        the supervisor created; the probe writes into it and never creates files)
 *                       {"type":"memory-pressure","level"}  → process.emit('cfn-supervise:memory-pressure',{level})
 */
// Loaded lazily: at preload time only the environment check runs, so a process that never reaches its
// event loop (`node -e 0`, `node --version`) pays nothing and never registers.
const load = {
  fs: () => require('node:fs') as typeof import('node:fs'),
  inspector: () => require('node:inspector') as typeof import('node:inspector'),
  net: () => require('node:net') as typeof import('node:net'),
  v8: () => require('node:v8') as typeof import('node:v8'),
};

const PROTOCOL_VERSION = 1;
const MAX_LINE_BYTES = 64 * 1024;
const MAX_ARGV = 64;
const MAX_ARG_CHARS = 1024;
const LOADED = Symbol.for('cfn-supervise.probe');
const CDP_ALLOWED = new Set([
  'Runtime.getHeapUsage',
  'HeapProfiler.enable',
  'HeapProfiler.startSampling',
  'HeapProfiler.stopSampling',
  'HeapProfiler.collectGarbage',
]);
// Console methods whose arguments the inspector retains (console.trace stays unwrapped so its printed
// stack does not gain a probe frame; the next wrapped call discards its entry).
const RETAINING_CONSOLE_METHODS = [
  'log', 'info', 'debug', 'warn', 'error', 'dir', 'dirxml', 'table', 'group', 'groupCollapsed', 'assert', 'timeLog',
] as const;
// Small primitive arguments cost little while retained, so they are discarded in batches, not per call.
const CHEAP_CALLS_PER_DISCARD = 64;
const LONG_STRING = 1024;
const PROGRESS_EVERY_BYTES = 4 * 1024 * 1024;

type Json = Record<string, unknown>;

/** Worker threads replace process.chdir with a stub marked `disabled`; requiring worker_threads to ask costs ~3 ms. */
function isMainThread(): boolean {
  return !(process.chdir as { disabled?: boolean }).disabled;
}

function parseOldSpaceLimit(): number | undefined {
  const flag = /(?:^|\s)--max[-_]old[-_]space[-_]size[= ](\d+)/g;
  let mb: number | undefined;
  // Command-line flags override NODE_OPTIONS, so they are read last.
  for (const source of [process.env.NODE_OPTIONS ?? '', process.execArgv.join(' ')]) {
    for (const m of source.matchAll(flag)) mb = Number(m[1]);
  }
  return mb === undefined ? undefined : mb * 1024 * 1024;
}

// Only the connection is made on the first loop turn; the rest loads once a supervisor answers.
function start(socketPath: string): void {
  const socket = load.net().createConnection(socketPath);
  socket.unref();
  socket.on('error', () => socket.destroy());
  socket.once('connect', () => {
    try {
      serve(socket);
    } catch {
      socket.destroy();
    }
  });
}

function serve(socket: import('node:net').Socket): void {
  const fs = load.fs();
  const inspector = load.inspector();
  const v8 = load.v8();
  socket.setEncoding('utf8');
  // Connected only while a supervisor is there: an open session makes the inspector retain console arguments.
  const session = new inspector.Session();
  session.connect();
  let connected = true;
  const discard = (): void => {
    if (!connected) return;
    try {
      session.post('Runtime.discardConsoleEntries');
    } catch {
      // The session is gone; nothing is retained any more.
    }
  };
  const restoreConsole = installConsoleDiscard(discard);

  const send = (msg: Json): void => {
    if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(msg)}\n`);
  };
  // While a snapshot runs, the main thread never returns to the loop, so queued writes would all arrive
  // at the end; progress goes straight to the fd when nothing is queued before it.
  const sendNow = (msg: Json): void => {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const line = Buffer.from(`${JSON.stringify(msg)}\n`);
    if (typeof fd !== 'number' || fd < 0 || socket.writableLength > 0) return;
    let written = 0;
    try {
      written = fs.writeSync(fd, line);
    } catch {
      return;
    }
    if (written < line.length) socket.write(line.subarray(written));
  };

  const shutdown = (): void => {
    if (!connected) return;
    connected = false;
    restoreConsole();
    try {
      session.disconnect();
    } catch {
      // Already disconnected.
    }
  };
  socket.on('close', shutdown);

  send({
    type: 'register',
    v: PROTOCOL_VERSION,
    pid: process.pid,
    ppid: process.ppid,
    argv: process.argv.slice(0, MAX_ARGV).map((a) => a.slice(0, MAX_ARG_CHARS)),
    url: inspector.url(),
    heapSizeLimit: v8.getHeapStatistics().heap_size_limit,
    oldSpaceLimit: parseOldSpaceLimit(),
    nodeVersion: process.version,
  });
  process.once('exit', (code) => {
    try {
      send({ type: 'exit', code });
    } catch {
      // Best effort: the socket closing tells the supervisor anyway.
    }
  });

  // The same framing as Registry.accept: a CommonJS preload cannot share a module with the ESM supervisor
  // (vitest does not transform .cts imported from .ts, so a shared .cts would break every supervisor test).
  let buffer = '';
  let skipping = false;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (skipping) skipping = false;
      else handleLine(line);
    }
    if (buffer.length > MAX_LINE_BYTES) {
      buffer = '';
      skipping = true;
    }
  });

  function handleLine(line: string): void {
    let msg: Json;
    try {
      msg = JSON.parse(line) as Json;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'memory-pressure') {
      // Emitted after the probe's own work is done: an exception from the app's listener is the app's.
      (process as NodeJS.EventEmitter).emit('cfn-supervise:memory-pressure', { level: String(msg.level) });
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number') return;
    const reply = (result: unknown, error?: unknown): void => {
      send(error === undefined ? { type: 'reply', id, result } : { type: 'reply', id, error: errorMessage(error) });
    };
    try {
      switch (msg.type) {
        case 'cdp':
          cdp(String(msg.method), msg.params, reply);
          break;
        case 'heap-stats':
          reply(heapStats());
          break;
        case 'capture':
          capture(String(msg.kind), String(msg.path), id, reply);
          break;
        default:
          reply(undefined, `unknown request type ${String(msg.type)}`);
      }
    } catch (err) {
      reply(undefined, err);
    }
  }

  function cdp(method: string, params: unknown, reply: (result: unknown, error?: unknown) => void): void {
    if (!CDP_ALLOWED.has(method)) {
      reply(undefined, `method not allowed: ${method}`);
      return;
    }
    session.post(method, (params ?? {}) as object, (err, result) => reply(result, err ?? undefined));
  }

  function capture(kind: string, path: string, id: number, reply: (result: unknown, error?: unknown) => void): void {
    // No O_CREAT: the probe only fills a file the supervisor already made private.
    const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW);
    let bytes = 0;
    const write = (data: string): void => {
      bytes += fs.writeSync(fd, data);
    };
    const finish = (err: Error | null): void => {
      try {
        fs.closeSync(fd);
      } finally {
        reply(err ? undefined : { bytes }, err ?? undefined);
      }
    };
    if (kind === 'heapprofile') {
      session.post('HeapProfiler.getSamplingProfile', (err, result) => {
        if (!err) write(JSON.stringify(result.profile));
        finish(err);
      });
      return;
    }
    if (kind !== 'heapsnapshot') {
      finish(new Error(`unknown capture kind ${kind}`));
      return;
    }
    // reportProgress:true segfaults Node 20 on an in-process session (measured), so progress is bytes written.
    let reported = 0;
    const onChunk = (m: { params: { chunk: string } }): void => {
      write(m.params.chunk);
      if (bytes - reported >= PROGRESS_EVERY_BYTES) {
        reported = bytes;
        sendNow({ type: 'progress', id, done: bytes, total: 0 });
      }
    };
    session.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
    session.post('HeapProfiler.takeHeapSnapshot', (err) => {
      session.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
      finish(err);
    });
  }
}

function heapStats(): Json {
  const v8 = load.v8();
  const h = v8.getHeapStatistics();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return {
    usedHeapSize: h.used_heap_size,
    totalHeapSize: h.total_heap_size,
    heapSizeLimit: h.heap_size_limit,
    mallocedMemory: h.malloced_memory,
    externalMemory: h.external_memory,
    oldSpaceSize: old?.space_size,
    oldSpaceUsed: old?.space_used_size,
    oldSpaceLimit: parseOldSpaceLimit(),
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * An open inspector retains every console call's arguments (the last 1000): 300 logs of 1 MB kept 300 MB
 * alive. Each retaining call is followed by Runtime.discardConsoleEntries (a synchronous in-process post,
 * ~4 µs), immediately when an argument can be large, in batches otherwise.
 */
function installConsoleDiscard(discard: () => void): () => void {
  let cheapCalls = 0;
  const target = console as unknown as Record<string, unknown>;
  const installed: [string, unknown, unknown][] = [];
  for (const name of RETAINING_CONSOLE_METHODS) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    const wrapper = {
      [name](this: unknown, ...args: unknown[]): unknown {
        try {
          return Reflect.apply(original, this, args);
        } finally {
          if (mayRetainMuch(args) || ++cheapCalls >= CHEAP_CALLS_PER_DISCARD) {
            cheapCalls = 0;
            discard();
          }
        }
      },
    }[name];
    target[name] = wrapper;
    installed.push([name, original, wrapper]);
  }
  return () => {
    for (const [name, original, wrapper] of installed) {
      // An app that re-assigned the method since keeps its own.
      if (target[name] === wrapper) target[name] = original;
    }
  };
}

function mayRetainMuch(args: unknown[]): boolean {
  for (const a of args) {
    if ((typeof a === 'object' && a !== null) || typeof a === 'function') return true;
    if (typeof a === 'string' && a.length >= LONG_STRING) return true;
  }
  return false;
}

try {
  const socketPath = process.env.CFN_SUPERVISE_SOCKET;
  const g = globalThis as Record<symbol, unknown>;
  if (socketPath && isMainThread() && !g[LOADED]) {
    g[LOADED] = true;
    setImmediate(() => {
      try {
        start(socketPath);
      } catch {
        // Same rule inside the deferred start.
      }
    }).unref();
  }
} catch {
  // The probe must never break the app it rides in.
}
