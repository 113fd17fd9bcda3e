// The control server: HTTP with JSON bodies on an owner-only unix socket in the state dir, optionally on a
// loopback TCP port behind a bearer token, and /metrics with the health routes alone on an optional metrics
// port. It validates and bounds every request, then hands it to ControlHandlers, which the supervisor
// implements with the same executor the policy uses; a bad request costs one error response and nothing else.
// Slow or idle clients cannot hold it: every connection has deadlines, each listener its own slots, and a full
// listener makes room by dropping its oldest connection that is not being answered.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, constants, ftruncateSync, lstatSync, readSync, rmSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { CfnError, HttpError, errorMessage } from '../../common/errors.js';
import { redactArgv } from '../../common/redact.js';
import type { Metrics } from './metrics.js';
import {
  MAX_BODY_BYTES,
  MAX_CAPTURE_SECONDS,
  NDJSON,
  SOCKET_NAME,
  controlPaths,
  type CaptureProgress,
  type CaptureRequest,
  type ControlHandlers,
} from './protocol.js';
import { claimSocketPath, ensurePrivateDir, openPrivateFile, socketFits, socketPathFor, writePrivateFile } from '../../common/statedir.js';

/** The supervisor's pino logger, or anything with its four levels. */
export type ControlLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ControlOptions {
  stateDir: string;
  metrics: Metrics;
  log: ControlLog;
  controlPort?: number;
  metricsPort?: number;
  /** Where the metrics port listens; loopback unless the user says otherwise. */
  metricsHost?: string;
}

export interface ControlServer {
  socketPath: string;
  controlPort?: number;
  metricsPort?: number;
  close(): Promise<void>;
}

/** The token scripts keep using across restarts; a new one when there is none or it is malformed. */
function loadOrCreateToken(file: string): string {
  const fd = openPrivateFile(file, constants.O_RDWR | constants.O_CREAT);
  try {
    const buf = Buffer.alloc(128);
    const existing = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)).trim();
    if (/^[0-9a-f]{64}$/.test(existing)) return existing;
    const token = randomBytes(32).toString('hex');
    ftruncateSync(fd, 0);
    writeSync(fd, `${token}\n`, 0);
    return token;
  } finally {
    closeSync(fd);
  }
}

/** Connections per listener: the unix socket, the control port and the metrics port each have their own. */
const MAX_CONNECTIONS = 32;
/** Connections on the control port that have not shown the token yet; they are closed after UNAUTHENTICATED_MS. */
const MAX_UNAUTHENTICATED = 8;
const UNAUTHENTICATED_MS = 3_000;
const MAX_HEADER_BYTES = 16 * 1024;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 5_000;
// Node checks the header and request deadlines only this often (30 s by default), which let a client that
// sends one byte a second hold a connection for over a minute.
const DEADLINE_CHECK_MS = 1_000;
const ACTION_TIMEOUT_MS = 120_000;
const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;
const HEARTBEAT_MS = 5_000;

// Request bodies are tiny and fixed: a few hand-written checks cost nothing, where a schema library cost this
// CLI ~10 MB and ~80 ms at every start.
const bad = (message: string) => new HttpError(400, `invalid request body: ${message}`);

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('expected a JSON object');
  return body as Record<string, unknown>;
}

function fields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  const b = object(body);
  const extra = Object.keys(b).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw bad(`unknown field '${extra}'`);
  return b;
}

function wholeNumber(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) throw bad(`${field}: expected a whole number from 1 to ${max}`);
  return value;
}

function captureBody(body: unknown): CaptureRequest {
  const b = fields(body, ['pid', 'kind', 'seconds']);
  const kind = b.kind ?? 'profile';
  if (kind !== 'profile' && kind !== 'snapshot') throw bad("kind: expected 'profile' or 'snapshot'");
  const pid = wholeNumber(b.pid, 'pid');
  const seconds = wholeNumber(b.seconds, 'seconds', MAX_CAPTURE_SECONDS);
  return { kind, ...(pid === undefined ? {} : { pid }), ...(seconds === undefined ? {} : { seconds }) };
}

function gcBody(body: unknown): { pid?: number } {
  const pid = wholeNumber(fields(body, ['pid']).pid, 'pid');
  return pid === undefined ? {} : { pid };
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(504, `${what} did not finish within ${ms / 1000} s; it may still complete`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

type Reply = { json: unknown; status?: number } | { text: string; contentType: string } | { streamed: true };
interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
}
type Route = (r: Request) => Promise<Reply> | Reply;

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const sendError = (res: ServerResponse, status: number, message: string) => sendJson(res, status, { error: { status, message } });

function errorStatus(err: unknown): { status: number; message: string } {
  if (err instanceof CfnError) return { status: err.status, message: err.message };
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}

async function capture(handlers: ControlHandlers, { req, res, body }: Request): Promise<Reply> {
  const request = captureBody(body);
  const deadlineMs = request.kind === 'snapshot' ? SNAPSHOT_TIMEOUT_MS : (request.seconds ?? 0) * 1000 + ACTION_TIMEOUT_MS;
  if (!String(req.headers.accept ?? '').includes(NDJSON)) {
    return { json: await withDeadline(handlers.capture(request, () => {}), deadlineMs, 'the capture') };
  }
  // Streamed: progress lines, a heartbeat through V8's silent pauses, then one result or error line.
  res.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
  const line = (value: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(value)}\n`);
  };
  let last: CaptureProgress = { phase: 'starting', done: 0 };
  const heartbeat = setInterval(() => line({ progress: last }), HEARTBEAT_MS);
  try {
    const result = await withDeadline(
      handlers.capture(request, (p) => {
        last = p;
        line({ progress: p });
      }),
      deadlineMs,
      'the capture',
    );
    line({ result });
  } catch (err) {
    line({ error: errorStatus(err) });
  } finally {
    clearInterval(heartbeat);
    res.end();
  }
  return { streamed: true };
}

type Routes = Record<string, Partial<Record<string, Route>>>;

type HealthView = ReturnType<NonNullable<ControlHandlers['health']>>;

/** A health check answers 200 when ok and 503 otherwise, with its details either way; one that throws is not ok. */
function healthRoute(check: (() => HealthView) | undefined): Route {
  return () => {
    let view: HealthView;
    try {
      view = check ? check() : { ok: true };
    } catch (err) {
      view = { ok: false, error: errorMessage(err) };
    }
    return { json: view, status: view.ok ? 200 : 503 };
  };
}

/** What any listener serves without the control token: scrapes and probes. */
function publicRoutes(handlers: ControlHandlers, metrics: Metrics): Routes {
  return {
    '/metrics': { GET: async () => ({ text: await metrics.render(), contentType: metrics.contentType }) },
    '/healthz': { GET: healthRoute(handlers.health?.bind(handlers)) },
    '/readyz': { GET: healthRoute(handlers.ready?.bind(handlers)) },
  };
}

function controlRoutes(handlers: ControlHandlers, metrics: Metrics): Routes {
  return {
    '/status': { GET: () => ({ json: handlers.status() }) },
    '/processes': { GET: () => ({ json: { processes: handlers.processes().map((p) => (p.argv ? { ...p, argv: redactArgv(p.argv) } : p)) } }) },
    '/capture': { POST: (r) => capture(handlers, r) },
    '/gc': { POST: async ({ body }) => ({ json: await withDeadline(handlers.gc(gcBody(body)), ACTION_TIMEOUT_MS, 'gc') }) },
    '/cleanup': {
      POST: async ({ body }) => {
        fields(body, []);
        return { json: await withDeadline(handlers.cleanup(), ACTION_TIMEOUT_MS, 'cleanup') };
      },
    },
    '/restart': {
      POST: async ({ body }) => {
        fields(body, []);
        return { json: await withDeadline(handlers.restart(), ACTION_TIMEOUT_MS, 'restart') };
      },
    },
    '/config': {
      GET: () => ({ json: handlers.getConfig() }),
      PATCH: ({ body }) => ({ json: handlers.patchConfig(object(body)) }),
    },
    ...publicRoutes(handlers, metrics),
  };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('error', reject);
    req.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new HttpError(400, `malformed JSON: ${(err as Error).message}`));
      }
    });
  });
}

function bearerMatches(req: IncomingMessage, token: Buffer): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  return given.length === token.length && timingSafeEqual(given, token);
}

function makeHandler(routes: Routes, log: ControlLog, token?: Buffer) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (token && !bearerMatches(req, token)) {
        res.setHeader('www-authenticate', 'Bearer');
        // Whoever lacks the token gets one answer, not a connection to hold.
        res.setHeader('connection', 'close');
        throw new HttpError(401, 'missing or wrong bearer token (see control.token in the state dir)');
      }
      const { pathname } = new URL(req.url ?? '/', 'http://control');
      const route = routes[pathname];
      if (!route) throw new HttpError(404, `no route ${pathname}`);
      const method = req.method ?? 'GET';
      const handle = route[method];
      if (!handle) {
        res.setHeader('allow', Object.keys(route).join(', '));
        throw new HttpError(405, `${method} is not allowed on ${pathname}`);
      }
      const body = await readBody(req);
      const reply = await handle({ req, res, body });
      if ('json' in reply) sendJson(res, reply.status ?? 200, reply.json);
      else if ('text' in reply) {
        res.writeHead(200, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.text) });
        res.end(reply.text);
      }
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        // The rest of the body is never read: answer, then drop the connection.
        res.setHeader('connection', 'close');
        sendError(res, 413, `request body over ${MAX_BODY_BYTES} bytes`);
        res.once('finish', () => req.destroy());
        return;
      }
      const { status, message } = errorStatus(err);
      if (status >= 500) log.error({ err: message, url: req.url, method: req.method }, 'control request failed');
      else log.debug({ status, err: message, url: req.url, method: req.method }, 'control request refused');
      sendError(res, status, message);
    }
  };
}

interface Slot {
  /** Requests received and not yet answered: a connection with one is never dropped to make room. */
  busy: number;
  authenticated: boolean;
}

/**
 * Keeps at most MAX_CONNECTIONS connections on this listener (and, with a token, at most MAX_UNAUTHENTICATED
 * that have not shown it, each for at most UNAUTHENTICATED_MS). A new connection over a limit drops the oldest
 * one that has no request in progress, so slow or idle clients cannot lock out a real request; only when every
 * connection is being answered is the new one refused.
 */
function guardConnections(server: Server, token: Buffer | undefined): void {
  const slots = new Map<Socket, Slot>();
  const oldestIdle = (unauthenticatedOnly: boolean) => {
    for (const [socket, slot] of slots) if (slot.busy === 0 && !(unauthenticatedOnly && slot.authenticated)) return socket;
    return undefined;
  };
  const unauthenticated = () => [...slots.values()].filter((s) => !s.authenticated).length;
  const makeRoom = (unauthenticatedOnly: boolean): boolean => {
    const victim = oldestIdle(unauthenticatedOnly);
    if (!victim) return false;
    slots.delete(victim);
    victim.destroy();
    return true;
  };
  server.on('connection', (socket: Socket) => {
    const roomForUnauthenticated = !token || unauthenticated() < MAX_UNAUTHENTICATED || makeRoom(true);
    if (!roomForUnauthenticated || (slots.size >= MAX_CONNECTIONS && !makeRoom(false))) {
      socket.destroy();
      return;
    }
    const slot: Slot = { busy: 0, authenticated: !token };
    slots.set(socket, slot);
    const deadline = token ? setTimeout(() => slot.authenticated || socket.destroy(), UNAUTHENTICATED_MS) : undefined;
    socket.once('close', () => {
      clearTimeout(deadline);
      slots.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const slot = slots.get(req.socket);
    if (!slot) return;
    slot.busy += 1;
    if (token && bearerMatches(req, token)) slot.authenticated = true;
    res.once('close', () => {
      slot.busy -= 1;
    });
  });
}

function newServer(handler: ReturnType<typeof makeHandler>, log: ControlLog, token?: Buffer): Server {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    },
    (req, res) => {
      void handler(req, res);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  guardConnections(server, token);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const late = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    log.debug({ err: err.code ?? err.message }, late ? 'control request too slow' : 'malformed control request');
    if (socket.writable) socket.end(`HTTP/1.1 ${late ? '408 Request Timeout' : '400 Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  return server;
}

function listen(server: Server, target: string | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof target === 'string') server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

function isSameFile(file: string, known: { dev: number; ino: number }): boolean {
  try {
    const st = lstatSync(file);
    return st.dev === known.dev && st.ino === known.ino;
  } catch {
    return false;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts the control socket (and the optional TCP listeners). Throws if another supervisor already answers
 * on this state dir's socket; a stale socket left by a dead one is replaced.
 */
export async function startControl(handlers: ControlHandlers, opts: ControlOptions): Promise<ControlServer> {
  const root = ensurePrivateDir(path.resolve(opts.stateDir));
  const paths = controlPaths(root);
  const socketPath = socketPathFor(root, SOCKET_NAME);
  await claimSocketPath(socketPath, `another supervisor is already running in ${root}`);
  const routes = controlRoutes(handlers, opts.metrics);
  const servers: Server[] = [];
  // Only what this process made is removed: a supervisor that lost the race must not unlink the winner's socket.
  let ownSocket: { dev: number; ino: number } | undefined;
  let ownPointer = false;
  const close = async () => {
    await Promise.all(servers.map(closeServer));
    if (ownSocket && isSameFile(socketPath, ownSocket)) rmSync(socketPath, { force: true });
    if (ownPointer) rmSync(paths.pointer, { force: true });
  };
  try {
    const unix = newServer(makeHandler(routes, opts.log), opts.log);
    servers.push(unix);
    await listen(unix, socketPath);
    ownSocket = lstatSync(socketPath);
    chmodSync(socketPath, 0o600);
    if (!socketFits(path.join(root, SOCKET_NAME))) {
      writePrivateFile(paths.pointer, `${socketPath}\n`);
      ownPointer = true;
    } else rmSync(paths.pointer, { force: true });

    const result: ControlServer = { socketPath, close };
    if (opts.controlPort !== undefined) {
      const token = Buffer.from(loadOrCreateToken(paths.token));
      const tcp = newServer(makeHandler(routes, opts.log, token), opts.log, token);
      servers.push(tcp);
      await listen(tcp, { port: opts.controlPort, host: '127.0.0.1' });
      result.controlPort = (tcp.address() as { port: number }).port;
    }
    if (opts.metricsPort !== undefined) {
      const scrape = newServer(makeHandler(publicRoutes(handlers, opts.metrics), opts.log), opts.log);
      servers.push(scrape);
      await listen(scrape, { port: opts.metricsPort, host: opts.metricsHost ?? '127.0.0.1' });
      result.metricsPort = (scrape.address() as { port: number }).port;
    }
    opts.log.info({ socket: socketPath, control_port: result.controlPort, metrics_port: result.metricsPort }, 'control listening');
    return result;
  } catch (err) {
    await close();
    throw err;
  }
}
