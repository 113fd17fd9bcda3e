// Real endpoints and a real logger for the alert channel tests: node:http servers on 127.0.0.1, a pino logger
// whose lines are kept for inspection, and hooks that count what the channels report.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';

/** An ISO timestamp, as alert payloads and the journals carry them. */
export const ISO_NOW = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** How the server answers its n-th request (0-based): a status, or never. */
export type Answer = (n: number) => number | 'hang';

export interface Endpoint {
  url: string;
  port: number;
  received: Received[];
  /** Requests whose connection went away before they were answered. */
  abandoned: number;
  close(): Promise<void>;
}

export async function endpoint(answer: Answer = () => 204): Promise<Endpoint> {
  const ep = { received: [] as Received[], abandoned: 0 };
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = ep.received.length;
      ep.received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      const status = answer(n);
      if (status === 'hang') {
        hanging.add(res);
        res.on('close', () => {
          if (hanging.delete(res)) ep.abandoned++;
        });
      } else res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(ep, {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        hanging.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A URL nothing listens on: a port the kernel handed out and that was closed again. */
export async function deadUrl(): Promise<string> {
  const ep = await endpoint();
  await ep.close();
  return `http://127.0.0.1:${ep.port}/hook`;
}

export interface Recorder {
  log: Logger;
  /** The log lines written so far, parsed. */
  lines: Record<string, unknown>[];
  text(): string;
  delivered: Record<string, number>;
  failed: Record<string, number>;
  dropped: Record<string, number>;
  onDelivery(channel: string, ok: boolean): void;
  onDrop(channel: string): void;
}

export function recorder(): Recorder {
  const raw: string[] = [];
  const r: Recorder = {
    log: pino({ base: null }, { write: (line: string) => void raw.push(line) }),
    get lines() {
      return raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => raw.join(''),
    delivered: {},
    failed: {},
    dropped: {},
    onDelivery(channel, ok) {
      const counts = ok ? r.delivered : r.failed;
      counts[channel] = (counts[channel] ?? 0) + 1;
    },
    onDrop(channel) {
      r.dropped[channel] = (r.dropped[channel] ?? 0) + 1;
    },
  };
  return r;
}

export const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
