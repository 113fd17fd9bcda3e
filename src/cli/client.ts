// The CLI side of the control socket: find it from the state dir (following the pointer file when the socket
// had to live elsewhere), send one request, bound the wait, and turn every failure into one clear line.
import { lstatSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { builtin } from '../common/builtin.js';
import { HttpError, NoSupervisorError } from '../common/errors.js';
import { controlPaths, NDJSON } from '../supervisor/control/protocol.js';
import { FIRST_BYTE_MS, judgeSilence, PING_MS } from './silence.js';

/** Silence longer than this means the supervisor is stuck; streamed captures send a heartbeat meanwhile. */
const IDLE_TIMEOUT_MS = 60_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

type RequestOptionsWithName = import('node:http').RequestOptions & { servername: string };

export interface RequestOptions {
  body?: unknown;
  /** Receives each NDJSON line of a streamed reply; the value resolved is the `result` line. */
  onLine?: (line: Record<string, unknown>) => void;
  timeoutMs?: number;
}

export class ControlClient {
  readonly socketPath: string;

  constructor(readonly stateDir: string) {
    this.socketPath = controlPaths(stateDir).socket;
  }

  /**
   * One request. No answer's first byte within FIRST_BYTE_MS asks why (silence.ts): a stopped or hung supervisor
   * ends it at once with SupervisorUnresponsive, a busy one is asked again after as long.
   */
  request<T>(method: string, route: string, opts: RequestOptions = {}): Promise<T> {
    return this.send<T>(method, route, opts, true);
  }

  /** Whether the supervisor answers a cheap request at all, whatever it answers. */
  private ping(): Promise<boolean> {
    return this.send('GET', '/healthz', { timeoutMs: PING_MS }, false).then(
      () => true,
      (err: unknown) => err instanceof HttpError,
    );
  }

  private async send<T>(method: string, route: string, opts: RequestOptions, watchSilence: boolean): Promise<T> {
    const noSupervisor = () => new NoSupervisorError(`no supervisor is running in ${this.stateDir}`);
    // No socket, no supervisor: said without loading the HTTP client, which is most of a short command's cost.
    // Synchronous: node:fs/promises would load streams and readline with it, a real share of a `status`
    // (benchmarks/results/design-figures.md).
    let found: boolean | undefined;
    try {
      found = lstatSync(this.socketPath, { throwIfNoEntry: false })?.isSocket() ?? false;
    } catch {
      // Not ours to judge (EACCES): the request says what is wrong.
    }
    if (found === false) throw noSupervisor();
    const { request: httpRequest } = builtin<typeof import('node:http')>('node:http');
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string | number> = { accept: opts.onLine ? `${NDJSON}, application/json` : 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise<T>((resolve, reject) => {
      // A unix socket has no server name: an empty one spares http.Agent's IP-address check (a large regex
      // compiled on first use) that would work it out from the host.
      let silence: NodeJS.Timeout | undefined;
      const askWhySilent = () => {
        silence = setTimeout(() => {
          judgeSilence(this.stateDir, () => this.ping()).then(
            (err) => {
              if (silence === undefined) return; // answered meanwhile
              if (err) req.destroy(err);
              else askWhySilent();
            },
            (err: Error) => req.destroy(err),
          );
        }, FIRST_BYTE_MS);
      };
      const stopAsking = () => {
        clearTimeout(silence);
        silence = undefined;
      };
      const req = httpRequest({ socketPath: this.socketPath, method, path: route, headers, servername: '' } as RequestOptionsWithName, (res) => {
        stopAsking();
        this.collect<T>(res, opts.onLine).then(resolve, reject);
      });
      if (watchSilence) askWhySilent();
      req.once('close', stopAsking);
      req.setTimeout(opts.timeoutMs ?? IDLE_TIMEOUT_MS, () =>
        req.destroy(new Error(`the supervisor in ${this.stateDir} did not answer within ${(opts.timeoutMs ?? IDLE_TIMEOUT_MS) / 1000} s`)),
      );
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') reject(noSupervisor());
        else reject(err);
      });
      req.end(payload);
    });
  }

  private collect<T>(res: IncomingMessage, onLine: RequestOptions['onLine']): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const streamed = String(res.headers['content-type'] ?? '').startsWith(NDJSON);
      const chunks: Buffer[] = [];
      let size = 0;
      let pending = '';
      let final: { result?: T; error?: { status: number; message: string } } = {};
      const takeLine = (text: string) => {
        if (text.trim() === '') return;
        const line = JSON.parse(text) as Record<string, unknown>;
        if ('result' in line) final = { result: line.result as T };
        else if ('error' in line) final = { error: line.error as { status: number; message: string } };
        else onLine?.(line);
      };
      res.on('data', (chunk: Buffer) => {
        if (streamed) {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop()!;
          lines.forEach(takeLine);
          return;
        }
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) res.destroy(new Error('the supervisor\'s answer is too large'));
        else chunks.push(chunk);
      });
      res.once('error', reject);
      res.once('end', () => {
        try {
          if (streamed) {
            takeLine(pending);
            if (final.error) throw new HttpError(final.error.status, final.error.message);
            if (!('result' in final)) throw new Error('the supervisor ended the capture without a result');
            return resolve(final.result as T);
          }
          const text = Buffer.concat(chunks).toString('utf8');
          const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
          const value = isJson ? (JSON.parse(text) as unknown) : text;
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const message = (value as { error?: { message?: string } }).error?.message ?? `HTTP ${status}`;
            throw new HttpError(status, message);
          }
          resolve(value as T);
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
