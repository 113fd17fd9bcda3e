// The control socket's routes: each request's body checked by hand, the work handed to ControlHandlers (the
// supervisor's side) with a deadline, captures streamed as NDJSON with a heartbeat through V8's silent pauses.
import { HttpError, errorMessage } from '../../common/errors.js';
import { within } from '../../common/deadline.js';
import { redactArgv } from '../../common/redact.js';
import { errorStatus, type Reply, type Request, type Route, type Routes } from './http.js';
import type { Metrics } from './metrics.js';
import { MAX_CAPTURE_SECONDS, NDJSON, type CaptureProgress, type CaptureRequest, type ControlHandlers } from './protocol.js';

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
  const b = fields(body, ['pid', 'thread', 'kind', 'seconds']);
  const kind = b.kind ?? 'profile';
  if (kind !== 'profile' && kind !== 'snapshot') throw bad("kind: expected 'profile' or 'snapshot'");
  const pid = wholeNumber(b.pid, 'pid');
  const thread = wholeNumber(b.thread, 'thread');
  if (thread !== undefined && pid === undefined) throw bad('thread: needs the pid of its process');
  const seconds = wholeNumber(b.seconds, 'seconds', MAX_CAPTURE_SECONDS);
  return { kind, ...(pid === undefined ? {} : { pid }), ...(thread === undefined ? {} : { thread }), ...(seconds === undefined ? {} : { seconds }) };
}

function gcBody(body: unknown): { pid?: number } {
  const pid = wholeNumber(fields(body, ['pid']).pid, 'pid');
  return pid === undefined ? {} : { pid };
}

const withDeadline = <T>(work: Promise<T>, ms: number, what: string): Promise<T> =>
  within(work, ms, () => new HttpError(504, `${what} did not finish within ${ms / 1000} s; it may still complete`));

async function capture(handlers: ControlHandlers, { req, res, body }: Request): Promise<Reply> {
  const request = captureBody(body);
  const deadlineMs = request.kind === 'snapshot' ? SNAPSHOT_TIMEOUT_MS : (request.seconds ?? 0) * 1000 + ACTION_TIMEOUT_MS;
  // A client interrupted mid-window (Ctrl-C on `capture --seconds 30`) wants no profile: it is not written or counted.
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  if (!String(req.headers.accept ?? '').includes(NDJSON)) {
    return { json: await withDeadline(handlers.capture(request, () => {}, gone.signal), deadlineMs, 'the capture') };
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
      handlers.capture(
        request,
        (p) => {
          last = p;
          line({ progress: p });
        },
        gone.signal,
      ),
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
export function publicRoutes(handlers: ControlHandlers, metrics: Metrics): Routes {
  return {
    '/metrics': { GET: async () => ({ text: metrics.render(), contentType: metrics.contentType }) },
    '/healthz': { GET: healthRoute(handlers.health?.bind(handlers)) },
    '/readyz': { GET: healthRoute(handlers.ready?.bind(handlers)) },
  };
}

export function controlRoutes(handlers: ControlHandlers, metrics: Metrics): Routes {
  const processes = () => handlers.processes().map((p) => (p.argv ? { ...p, argv: redactArgv(p.argv) } : p));
  return {
    // `?processes=1`: both in one answer, of one moment, as `status` shows them (one request instead of two).
    '/status': { GET: ({ url }) => ({ json: url.searchParams.has('processes') ? { ...handlers.status(), processes: processes() } : handlers.status() }) },
    '/processes': { GET: () => ({ json: { processes: processes() } }) },
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
