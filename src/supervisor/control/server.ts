// The control server: HTTP with JSON bodies on an owner-only unix socket in the state dir, optionally on a
// loopback TCP port behind a bearer token, and /metrics with the health routes alone on an optional metrics
// port. It validates and bounds every request, then hands it to ControlHandlers, which the supervisor
// implements with the same executor the policy uses; a bad request costs one error response and nothing else.
// Slow or idle clients cannot hold it: every connection has deadlines, each listener its own slots, and a full
// listener makes room by dropping its oldest connection that is not being answered.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, ftruncateSync, lstatSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { claimSocketPath, ensurePrivateDir, isSameFile, openPrivateFile, socketFits, socketPathFor, writePrivateFile } from '../../common/statedir.js';
import { listen, makeHandler, newServer, type ControlLog } from './http.js';
import type { Metrics } from './metrics.js';
import { SOCKET_NAME, controlPaths, type ControlHandlers } from './protocol.js';
import { controlRoutes, publicRoutes } from './routes.js';

export type { ControlLog };

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
  /**
   * Listens again when the socket file is no longer ours (removed with the state dir's contents, or replaced):
   * the supervisor calls it every second. Resolves true when it listened again.
   */
  keep(): Promise<boolean>;
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
  let closed = false;
  let keeping: Promise<boolean> | undefined;
  const close = async () => {
    // Never listened on again once closing (its removed file looks lost); one under way ends first and is closed.
    closed = true;
    await keeping?.catch(() => false);
    await Promise.all(servers.map(closeServer));
    if (ownSocket && isSameFile(socketPath, ownSocket)) rmSync(socketPath, { force: true });
    if (ownPointer) rmSync(paths.pointer, { force: true });
  };
  const listenUnix = async () => {
    const unix = newServer(makeHandler(routes, opts.log), opts.log);
    servers.push(unix);
    await listen(unix, socketPath);
    ownSocket = lstatSync(socketPath);
    chmodSync(socketPath, 0o600);
    return unix;
  };
  const pointTo = () => {
    if (!socketFits(path.join(root, SOCKET_NAME))) {
      writePrivateFile(paths.pointer, `${socketPath}\n`);
      ownPointer = true;
    } else rmSync(paths.pointer, { force: true });
  };
  let unix: Server | undefined;
  const listenAgain = async () => {
    ensurePrivateDir(path.dirname(socketPath));
    await claimSocketPath(socketPath, `another process listens on ${socketPath}`);
    // The old listener is unreachable by its path; the requests it is answering still finish. Closed first:
    // closing a unix listener unlinks its path, which would take the new socket's name.
    if (unix) {
      servers.splice(servers.indexOf(unix), 1);
      unix.close();
    }
    unix = await listenUnix();
    return true;
  };
  const keep = async () => {
    if (closed) return false;
    const lost = ownSocket !== undefined && !isSameFile(socketPath, ownSocket);
    if (ownPointer && !existsSync(paths.pointer)) pointTo();
    if (!lost || keeping) return false;
    keeping = listenAgain();
    try {
      return await keeping;
    } finally {
      keeping = undefined;
    }
  };
  try {
    unix = await listenUnix();
    pointTo();

    const result: ControlServer = { socketPath, keep, close };
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
