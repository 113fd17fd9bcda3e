// The dashboard's HTTP server on 127.0.0.1: the page, its server-sent events, a capture's sites and icicle,
// and the two buttons, forwarded to the control socket's POST /capture and /gc so that the supervisor's one
// executor, its cooldowns and caps decide, as for `cfn-supervise capture` and `gc`. The control server's
// request handling is reused (bounded bodies and connections, deadlines, one JSON error shape); in front of it,
// dashboard-gate.ts decides who is served.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CfnError, HttpError } from '../common/errors.js';
import { dashboardPage, pageCsp } from '../report/dashboard-page.js';
import { type ControlLog, type Reply, type Routes, errorStatus, listen, makeHandler, newServer, sendJson } from '../supervisor/control/http.js';
import type { CaptureResult, GcResult } from '../supervisor/control/protocol.js';
import type { ControlClient } from './client.js';
import { CaptureViews } from './dashboard-capture.js';
import type { Feed, Snapshot } from './dashboard-feed.js';
import { COOKIE, TOKEN_HEADER, judge } from './dashboard-gate.js';
import { SPARK_SIZE } from './dashboard-trails.js';

/** Pages listening at once; one more is refused rather than slowing every other. */
export const MAX_CLIENTS = 8;
/** A page that has not read this much of its stream is too slow to follow: it is dropped, and reconnects. */
const MAX_BACKLOG_BYTES = 1024 * 1024;
const KEEPALIVE_MS = 15_000;
const GC_TIMEOUT_MS = 130_000;
const CAPTURE_TIMEOUT_MS = 200_000;

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

export interface Dashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

function pidBody(body: unknown): { pid?: number } {
  const pid = (body as { pid?: unknown } | null)?.pid;
  if (pid === undefined) return {};
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) throw new HttpError(400, 'pid: expected a process id');
  return { pid };
}

class Streams {
  private readonly clients = new Set<ServerResponse>();

  constructor(private readonly feed: Feed) {}

  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= MAX_CLIENTS) throw new HttpError(429, `${MAX_CLIENTS} pages are open already; close one`);
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    const send = (s: Snapshot) => {
      if (res.writableLength > MAX_BACKLOG_BYTES) return void res.destroy();
      res.write(`data: ${JSON.stringify(s)}\n\n`);
    };
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const unsubscribe = this.feed.subscribe(send);
    res.once('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      this.clients.delete(res);
    });
    req.socket.setNoDelay(true);
  }

  closeAll(): void {
    for (const res of this.clients) res.destroy();
  }
}

export async function startDashboard(opts: { client: ControlClient; feed: Feed; port: number; log: ControlLog }): Promise<Dashboard> {
  const { client, feed } = opts;
  const token = randomBytes(32).toString('base64url');
  const streams = new Streams(feed);
  const views = new CaptureViews(() => feed.captures());
  // The supervisor's refusal (a cap, no such process) or absence is its answer, which the page shows: sent as
  // 200 with an error, since a browser logs every 4xx and 5xx response as an error of the page. An action's
  // effect is shown at once, not a tick later.
  const act = async (work: Promise<unknown>): Promise<Reply> => {
    try {
      return { json: await work };
    } catch (err) {
      if (err instanceof CfnError) return { json: { error: errorStatus(err) } };
      throw err;
    } finally {
      feed.refresh();
    }
  };
  const routes: Routes = {
    '/': {
      GET: ({ res }) => {
        const nonce = randomBytes(16).toString('base64');
        res.setHeader('content-security-policy', pageCsp(nonce));
        return { text: dashboardPage({ token, nonce, spark: SPARK_SIZE }), contentType: 'text/html; charset=utf-8' };
      },
    },
    '/events': { GET: ({ req, res }) => (streams.open(req, res), { streamed: true }) },
    '/api/capture-view': {
      GET: async ({ url }) => {
        const { svg: _svg, ...view } = await views.view(url.searchParams.get('file'));
        return { json: view };
      },
    },
    '/icicle': {
      GET: async ({ url, res }) => {
        const { svg } = await views.view(url.searchParams.get('file'));
        if (svg === undefined) throw new HttpError(404, 'only a heap profile has a call tree to draw');
        res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
        return { text: svg, contentType: 'image/svg+xml' };
      },
    },
    '/api/gc': { POST: ({ body }) => act(client.request<GcResult>('POST', '/gc', { body: pidBody(body), timeoutMs: GC_TIMEOUT_MS })) },
    '/api/capture': { POST: ({ body }) => act(client.request<CaptureResult>('POST', '/capture', { body: { kind: 'profile', ...pidBody(body) }, timeoutMs: CAPTURE_TIMEOUT_MS })) },
  };
  const inner = makeHandler(routes, opts.log);
  let port = 0;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const header = req.headers[TOKEN_HEADER];
    const verdict = judge(
      {
        method: req.method ?? 'GET',
        host: req.headers.host,
        origin: req.headers.origin,
        cookie: req.headers.cookie,
        queryToken: url.searchParams.get('token'),
        headerToken: Array.isArray(header) ? header[0] : header,
        pathname: url.pathname,
      },
      token,
      port,
    );
    if (!verdict.ok) {
      res.setHeader('connection', 'close');
      return sendJson(res, verdict.status, { error: errorStatus(new HttpError(verdict.status, verdict.message)) });
    }
    if (verdict.setCookie) res.setHeader('set-cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    return inner(req, res);
  };
  const server: Server = newServer(handler, opts.log);
  await listen(server, { port: opts.port, host: '127.0.0.1' });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        feed.stop();
        streams.closeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
