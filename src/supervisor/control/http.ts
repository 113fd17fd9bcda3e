// HTTP for the control socket and its TCP listeners: one request handler over a table of routes (bounded
// bodies, the bearer token where there is one, one JSON error shape), and connections that cannot starve it:
// deadlines on headers and requests, slots per listener, and a full listener makes room by dropping its oldest
// connection that is not being answered.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { CfnError, HttpError } from '../../common/errors.js';
import { MAX_BODY_BYTES } from './protocol.js';

/** The supervisor's pino logger, or anything with its four levels. */
export type ControlLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

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

export type Reply = { json: unknown; status?: number } | { text: string; contentType: string } | { streamed: true };
export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  /** req.url, parsed once for the route lookup: its query is the route's. */
  url: URL;
}
export type Route = (r: Request) => Promise<Reply> | Reply;
export type Routes = Record<string, Partial<Record<string, Route>>>;

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const sendError = (res: ServerResponse, status: number, message: string) => sendJson(res, status, { error: { status, message } });

export function errorStatus(err: unknown): { status: number; message: string } {
  if (err instanceof CfnError) return { status: err.status, message: err.message };
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
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

export function makeHandler(routes: Routes, log: ControlLog, token?: Buffer) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (token && !bearerMatches(req, token)) {
        res.setHeader('www-authenticate', 'Bearer');
        // Whoever lacks the token gets one answer, not a connection to hold.
        res.setHeader('connection', 'close');
        throw new HttpError(401, 'missing or wrong bearer token (see control.token in the state dir)');
      }
      const url = new URL(req.url ?? '/', 'http://control');
      const { pathname } = url;
      const route = routes[pathname];
      if (!route) throw new HttpError(404, `no route ${pathname}`);
      const method = req.method ?? 'GET';
      const handle = route[method];
      if (!handle) {
        res.setHeader('allow', Object.keys(route).join(', '));
        throw new HttpError(405, `${method} is not allowed on ${pathname}`);
      }
      const body = await readBody(req);
      const reply = await handle({ req, res, body, url });
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

export function newServer(handler: ReturnType<typeof makeHandler>, log: ControlLog, token?: Buffer): Server {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    },
    (req, res) => {
      // The handler answers every error itself; what escapes it (an answer that could not be sent) ends this
      // connection only, never the supervisor.
      handler(req, res).catch((err: Error) => {
        log.error({ err: err.message, url: req.url, method: req.method }, 'control request failed');
        res.destroy();
      });
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

export function listen(server: Server, target: string | { port: number; host: string }): Promise<void> {
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
