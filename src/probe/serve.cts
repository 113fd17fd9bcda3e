/*
 * One connection to the supervisor, from registration to close (the protocol is in probe.cts). Loaded only
 * once a supervisor answered. Nothing here may throw into the app: every request is answered, with an
 * error when it failed, and the app's streams are never written.
 */
import fs = require('node:fs');
import type { Socket } from 'node:net';
import v8 = require('node:v8');
import type { Inspector } from './inspector.cjs';
import { JSONParse, JSONStringify, ReflectApply, emitOnProcess, onWorkerOom, socketWrite, utf8 } from './probe.cjs';
import { Judge, Throttle, watchMajorGcs, type GcPoint } from './pressure.cjs';
import { threadOf, workerOldSpaceLimit } from './workers.cjs';

const PROTOCOL_VERSION = 2;
const MAX_LINE_BYTES = 64 * 1024;
const MAX_ARGV = 64;
const MAX_ARG_CHARS = 1024;
const PROGRESS_EVERY_BYTES = 4 * 1024 * 1024;
const GC_REPORT_EVERY_MS = 500;
// Handle types are a short list in practice (TCPSocketWrap, Timeout, FSReqCallback, ...): bounded all the same.
const MAX_HANDLE_TYPES = 32;
// Taken when serve loads (getActiveResourcesInfo is Node 17+). The app may have replaced them by then: what they
// fail to give is left out of the reading, never the heap figures with it.
const memoryUsage = process.memoryUsage;
const activeResources = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;

type Json = Record<string, unknown>;
type Reply = (result: unknown, error?: unknown) => void;

interface Config {
  pressure: number;
  samplingInterval: number;
  capturesDir?: string;
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

// Parsed once: every reading asks for it, and a sampling profile of a small heap would show the parse's strings.
const flagOldSpaceLimit = parseOldSpaceLimit();

/** What this isolate's heap dies at: a worker's own limit when no flag sets it. */
function oldSpaceLimit(thread: number): number | undefined {
  return flagOldSpaceLimit ?? (thread ? workerOldSpaceLimit() : undefined);
}

/** The url of an inspector the app opened itself (the probe never opens one); loading `inspector` only then. */
function ownInspectorUrl(): string | undefined {
  const flag = /(?:^|\s)--inspect(?:-brk|-wait)?(?:[= ]|$)/;
  if (!flag.test(process.env.NODE_OPTIONS ?? '') && !flag.test(process.execArgv.join(' '))) return undefined;
  return (require('node:inspector') as typeof import('node:inspector')).url();
}

function heapStats(thread: number): Json {
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
    oldSpaceLimit: oldSpaceLimit(thread),
    // Buffers and ArrayBuffers live outside the V8 heap: a leak of them grows RSS while the heap stays flat.
    ...offHeap(),
    handles: handleCounts(),
  };
}

function offHeap(): Json {
  try {
    const m = ReflectApply(memoryUsage, process, []);
    return { external: m.external, arrayBuffers: m.arrayBuffers };
  } catch {
    return {};
  }
}

/** Active handles and requests by type: what a leak of sockets or timers grows. */
function handleCounts(): Record<string, number> | undefined {
  if (typeof activeResources !== 'function') return undefined;
  // No prototype: a type is counted whatever its name.
  const counts = Object.create(null) as Record<string, number>;
  let types = 0;
  try {
    for (const type of ReflectApply(activeResources, process, [])) {
      if (counts[type] === undefined) {
        if (types++ >= MAX_HANDLE_TYPES) continue;
        counts[type] = 0;
      }
      counts[type]++;
    }
  } catch {
    return undefined;
  }
  return counts;
}

const isPositiveInt = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;
const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function serve(socket: Socket): void {
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());

  const config: Config = { pressure: 0, samplingInterval: 0 };
  // Loaded on first need, like everything a GC or a capture needs: registering costs as little as it can.
  let loaded: Inspector | undefined;
  const inspector = (): Inspector =>
    (loaded ??= new (require('./inspector.cjs') as typeof import('./inspector.cjs')).Inspector());
  const sampling = (): boolean => loaded?.sampling ?? false;
  const judge = new Judge();
  const thread = threadOf();
  const limit = oldSpaceLimit(thread) ?? v8.getHeapStatistics().heap_size_limit;
  let lastGc: GcPoint | undefined;

  // Through Socket.prototype.write as it was at preload (an app may have replaced it since). A stream write
  // is tried at once, so a progress line reaches the supervisor while a snapshot holds the main thread and the
  // loop does not turn (measured on 20, 22 and 24); the socket queues only what the kernel did not take.
  // Never throws: it is called from callbacks where a throw would be the app's crash.
  const send = (msg: Json): void => {
    try {
      if (socket.destroyed || !socket.writable) return;
      socketWrite(socket, utf8(`${JSONStringify(msg)}\n`));
    } catch {
      // A line the app's replaced runtime would not let out is lost; the supervisor's call times out.
    }
  };

  const report = new Throttle(GC_REPORT_EVERY_MS, (p) => send({ type: 'post-gc', ...p }));
  const afterMajorGc = (at: number): void => {
    try {
      const used = v8.getHeapStatistics().used_heap_size;
      lastGc = { used, at };
      report.push(lastGc);
      const verdict = judge.observe(used, limit, config.pressure, config.pressure > 0 && config.samplingInterval > 0);
      if (!verdict) return;
      inspector().press(verdict.sample, config.samplingInterval);
      send({ type: 'sampling', sampling: sampling(), why: verdict.why, used });
    } catch {
      // An observer callback that throws would be the app's uncaught exception.
    }
  };
  const stopWatching = watchMajorGcs(afterMajorGc, (start) => loaded?.ownCollection(start) ?? false);
  if (!thread) onWorkerOom((t, fatal) => send({ type: 'worker-oom', thread: t, fatal }));

  socket.on('close', () => {
    try {
      stopWatching();
      report.close();
      loaded?.stop();
    } catch {
      // The session is gone with it.
    }
  });

  send({
    type: 'register',
    v: PROTOCOL_VERSION,
    pid: process.pid,
    ppid: process.ppid,
    argv: process.argv.slice(0, MAX_ARGV).map((a) => a.slice(0, MAX_ARG_CHARS)),
    url: ownInspectorUrl(),
    heapSizeLimit: v8.getHeapStatistics().heap_size_limit,
    oldSpaceLimit: oldSpaceLimit(thread),
    nodeVersion: process.version,
    ...(thread ? { thread } : {}),
  });
  try {
    // Adding a listener emits newListener on process, through an emit the app may have replaced.
    process.once('exit', (code) => send({ type: 'exit', code }));
  } catch {
    // Without it, the socket closing tells the supervisor.
  }

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
      msg = JSONParse(line) as Json;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'memory-pressure') {
      // Emitted after the probe's own work is done: an exception from the app's listener is the app's.
      emitOnProcess('cfn-supervise:memory-pressure', { level: String(msg.level) });
      return;
    }
    if (msg.type === 'config') {
      configure(msg);
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number') return;
    const reply: Reply = (result, error) => {
      send(error === undefined ? { type: 'reply', id, result } : { type: 'reply', id, error: errorMessage(error) });
    };
    try {
      switch (msg.type) {
        case 'heap-stats':
          reply({ ...heapStats(thread), sampling: sampling(), session: loaded?.attached ?? false, ...(lastGc ? { lastGc } : {}) });
          break;
        case 'sampling':
          reply(samplingRequest(String(msg.mode), msg.interval));
          break;
        case 'gc': {
          const before = v8.getHeapStatistics().used_heap_size;
          inspector().collectGarbage((err) => {
            if (err) return reply(undefined, err);
            // The observer leaves the probe's own collections out (watchMajorGcs): this one is judged here, also
            // while the observer is paused.
            afterMajorGc(Date.now());
            reply({ beforeBytes: before, afterBytes: v8.getHeapStatistics().used_heap_size });
          });
          break;
        }
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

  function configure(msg: Json): void {
    const { pressure, samplingInterval, capturesDir } = msg;
    if (typeof pressure === 'number' && pressure >= 0 && pressure <= 1) config.pressure = pressure;
    if (Number.isInteger(samplingInterval) && (samplingInterval as number) >= 0) config.samplingInterval = samplingInterval as number;
    if (typeof capturesDir === 'string' && capturesDir.startsWith('/')) config.capturesDir = capturesDir;
  }

  function samplingRequest(mode: string, interval: unknown): Json {
    let wasSampling = sampling();
    switch (mode) {
      case 'hold':
      case 'window':
        if (!isPositiveInt(interval)) throw new Error('sampling needs an interval in bytes');
        wasSampling = inspector().hold(interval, mode === 'window');
        break;
      case 'release':
        loaded?.release();
        break;
      case 'stop':
        loaded?.stop();
        judge.stopped();
        break;
      default:
        throw new Error(`unknown sampling mode ${mode}`);
    }
    return { sampling: sampling(), wasSampling };
  }

  /** Replies once the file is written (a snapshot may be answered after this returns: Node 22 and later). */
  function capture(kind: string, file: string, id: number, reply: Reply): void {
    if (kind !== 'heapprofile' && kind !== 'heapsnapshot') throw new Error(`unknown capture kind ${kind}`);
    if (kind === 'heapprofile' && !sampling()) throw new Error('not sampling');
    const { openCaptureFile, writeAll } = require('./capture-file.cjs') as typeof import('./capture-file.cjs');
    // Loaded before the file is open: nothing may throw between the open and the code that closes it.
    const session = inspector();
    const fd = openCaptureFile(file, config.capturesDir);
    if (kind === 'heapprofile') {
      try {
        reply({ bytes: writeAll(fd, JSONStringify(session.profile())) });
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    // reportProgress:true segfaults Node 20 on an in-process session (measured), so progress is bytes written.
    let bytes = 0;
    let reported = 0;
    const finish = (err: unknown): void => {
      try {
        fs.closeSync(fd);
      } catch (closeErr) {
        err ??= closeErr;
      }
      if (err) reply(undefined, err);
      else reply({ bytes });
    };
    session.snapshot(
      (chunk) => {
        bytes += writeAll(fd, chunk);
        if (bytes - reported >= PROGRESS_EVERY_BYTES) {
          reported = bytes;
          send({ type: 'progress', id, done: bytes, total: 0 });
        }
      },
      finish,
    );
  }
}
