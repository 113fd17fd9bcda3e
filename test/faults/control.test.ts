// The control server under slow, idle and unauthenticated clients, and its health routes.
import { mkdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ControlHandlers } from '../../src/supervisor/control/protocol.js';
import { startControl } from '../../src/supervisor/control/server.js';
import { controlPaths } from '../../src/supervisor/control/protocol.js';
import { Metrics } from '../../src/supervisor/control/metrics.js';
import { onCleanup, tempDir, waitFor } from '../helpers/cli.js';
import { send, silentLog, testHandlers, type Target } from '../control/harness.js';


async function start(opts: { controlPort?: number; metricsPort?: number } = {}, extra: Partial<ControlHandlers> = {}) {
  const stateDir = path.join(tempDir('cfn-control-fault-'), 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  const { handlers, calls } = testHandlers(stateDir);
  const server = await startControl({ ...handlers, ...extra }, { stateDir, metrics: new Metrics(), log: silentLog, ...opts });
  onCleanup(() => server.close());
  return { server, calls, stateDir, unix: { socketPath: server.socketPath } as Target };
}

interface Raw {
  socket: Socket;
  /** What the server sent so far. */
  received: () => string;
}

/** A raw connection that has sent `first` (possibly nothing) and reads whatever comes, so it sees the server close. */
function openRaw(target: Target, first = ''): Promise<Raw> {
  return new Promise((resolve) => {
    const socket = 'socketPath' in target ? connect(target.socketPath) : connect(target.port, '127.0.0.1');
    onCleanup(() => socket.destroy());
    let received = '';
    const raw = { socket, received: () => received };
    socket.on('data', (b: Buffer) => (received += b.toString()));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve(raw);
    });
    // Dropped by the server before it could send anything: as much an outcome as any other.
    socket.once('close', () => resolve(raw));
  });
}

/** Sends `text` one byte a second, as a slowloris client does. */
function drip({ socket }: Raw, text: string): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) clearInterval(timer);
    else socket.write(text[i++]!);
  }, 1000);
  onCleanup(() => clearInterval(timer));
}

const isClosed = (r: Raw) => r.socket.closed;
const PARTIAL_HEADERS = 'GET /status HTTP/1.1\r\nHost: control\r\n';

describe('the control server under slow clients', () => {
  it('answers a real request on the unix socket while 500 slow connections are open', async () => {
    const { unix } = await start();
    const slow = await Promise.all(Array.from({ length: 500 }, () => openRaw(unix, PARTIAL_HEADERS)));
    for (const s of slow) drip(s, 'X-Slow: '.padEnd(200, 'z'));
    const reply = await send(unix, 'GET', '/status');
    expect(reply.status).toBe(200);
    expect(reply.json().agent.run_id).toBe('abcd-1');
    // Room was made by dropping the oldest idle connections, not by refusing the newest.
    await waitFor(() => slow.filter(isClosed).length >= 500 - 32, 30_000, 'the slow connections to be dropped');
  });

  it('closes a client that sends one byte a second, in its headers or in its body', async () => {
    const { unix } = await start();
    const headers = await openRaw(unix, 'G');
    drip(headers, PARTIAL_HEADERS.slice(1).padEnd(500, 'x'));
    const body = await openRaw(unix, 'POST /gc HTTP/1.1\r\nHost: control\r\nContent-Length: 500\r\n\r\n{');
    drip(body, ' '.repeat(499));
    await waitFor(() => isClosed(headers) && isClosed(body), 20_000, 'the one-byte-a-second clients to be closed');
    expect(headers.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(body.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect((await send(unix, 'GET', '/status')).status).toBe(200);
  });

  it('keeps a connection whose request is in progress however many others arrive', async () => {
    const { unix, calls } = await start();
    const capture = send(unix, 'POST', '/capture', { body: '{"seconds": 2}' });
    await waitFor(() => calls.some((c) => c.name === 'capture'), 10_000, 'the capture to start');
    await Promise.all(Array.from({ length: 100 }, () => openRaw(unix)));
    const reply = await capture;
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({ kind: 'profile', pid: 4242 });
  });

  it('lets no flood of TCP connections without the token block the unix socket or a client with the token', async () => {
    const { server, unix, stateDir } = await start({ controlPort: 0 });
    const tcp: Target = { port: server.controlPort! };
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => openRaw(tcp, i % 2 ? PARTIAL_HEADERS : '')));
    expect((await send(unix, 'GET', '/status')).status).toBe(200);
    const token = readFileSync(controlPaths(stateDir).token, 'utf8').trim();
    expect((await send(tcp, 'GET', '/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Whoever has not shown the token within a few seconds is let go.
    await waitFor(() => flood.every(isClosed), 20_000, 'the unauthenticated connections to be closed');
  });

  it('answers a request without the token once and closes its connection', async () => {
    const { server } = await start({ controlPort: 0 });
    const raw = await openRaw({ port: server.controlPort! }, 'GET /status HTTP/1.1\r\nHost: control\r\n\r\n');
    await waitFor(() => isClosed(raw), 10_000, 'the connection to be closed');
    expect(raw.received()).toMatch(/^HTTP\/1\.1 401 /);
    expect(raw.received()).toMatch(/\r\nconnection: close\r\n/i);
  });
});

describe('health routes', () => {
  it('answer 200 by default, on the socket and on the metrics port, and need the token on the control port', async () => {
    const { server, unix } = await start({ metricsPort: 0, controlPort: 0 });
    for (const target of [unix, { port: server.metricsPort! }]) {
      for (const route of ['/healthz', '/readyz']) {
        const reply = await send(target, 'GET', route);
        expect({ route, status: reply.status, body: reply.json() }).toEqual({ route, status: 200, body: { ok: true } });
      }
    }
    expect((await send({ port: server.controlPort! }, 'GET', '/healthz')).status).toBe(401);
  });

  it('answer what the supervisor says: 200 when ok, 503 when not or when the check throws, details either way', async () => {
    let state = { ok: true, tick_age_ms: 120 };
    const { server, unix } = await start(
      { metricsPort: 0 },
      {
        health: () => state,
        ready: () => {
          throw new Error('no agent yet');
        },
      },
    );
    const scrape = { port: server.metricsPort! };
    expect((await send(unix, 'GET', '/healthz')).json()).toEqual({ ok: true, tick_age_ms: 120 });
    state = { ok: false, tick_age_ms: 61_000 };
    for (const target of [unix, scrape]) {
      const health = await send(target, 'GET', '/healthz');
      expect({ status: health.status, body: health.json() }).toEqual({ status: 503, body: { ok: false, tick_age_ms: 61_000 } });
      const ready = await send(target, 'GET', '/readyz');
      expect({ status: ready.status, body: ready.json() }).toEqual({ status: 503, body: { ok: false, error: 'no agent yet' } });
    }
    expect((await send(scrape, 'POST', '/healthz')).status).toBe(405);
  });
});
