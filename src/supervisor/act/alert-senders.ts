// How one alert leaves the machine: a webhook POST or an alert command. Each send is one attempt, ended by the
// signal it is given (its timeout, or the supervisor exiting); retries and order are channels.ts's business.
// Nothing here may put a secret of a URL or command into a log line or an error message.
import { spawn } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { builtin } from '../../common/builtin.js';
import { UsageError, errorMessage } from '../../common/errors.js';
import { redactCommand, redactUrl } from '../../common/redact.js';

/** A failed attempt that says whether another one could succeed: a 404 or a 401 will not. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface Sender {
  /** Short and free of secrets: the metrics label and the `channel` of log lines. */
  readonly name: string;
  /** Where it goes, redacted: what log lines say about the destination. */
  readonly target: string;
  /** Resolves when delivered; rejects (a DeliveryError, or whatever the transport threw) when not. */
  send(body: string, signal: AbortSignal): Promise<void>;
}

/** The supervisor's own helper processes: it keeps them out of the agent's tree and away from its reaper. */
export interface SpawnHooks {
  onSpawn?: (pid: number) => void;
  /** Called once the process has been reaped. */
  onExit?: (pid: number) => void;
}

/** Parses a --alert-webhook value; UsageError (naming only its redacted form) when it is not an http(s) URL. */
export function webhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--alert-webhook: expected an http or https URL, got '${redactUrl(raw)}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--alert-webhook: expected an http or https URL, got a ${url.protocol} one`);
  }
  return url;
}

const RETRYABLE_STATUS = new Set([408, 425, 429]);

/**
 * One POST; resolves with the answer's status. node:http(s), not fetch: its first request costs ~40 ms and a few
 * MB here against fetch's ~95 ms (undici loads then), in a supervisor that is otherwise idle. An https webhook
 * trusts what node trusts, NODE_EXTRA_CA_CERTS included. A redirect is never followed (a followed one turns the
 * POST into a GET that "succeeds" with no alert).
 */
function post(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
  // node:https only for an https webhook: ~5 ms of start-up that most supervisors never use.
  const request = url.protocol === 'https:' ? builtin<typeof import('node:https')>('node:https').request : httpRequest;
  return new Promise((resolve, reject) => {
    const options = { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal };
    const req = request(url, options, (res: IncomingMessage) => {
      // The answer's body is of no interest, but it must be read to free the connection.
      res.resume().on('error', () => undefined);
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function webhookSender(name: string, raw: string): Sender {
  const url = webhookUrl(raw);
  const target = redactUrl(raw);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // Credentials in the URL travel as the Basic header they stand for, never as part of a URL that could be logged.
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const href = url.href;
  // Error texts of the transport may quote the URL; only its redacted form may go on.
  const clean = (text: string) => text.split(raw).join(target).split(href).join(target);
  return {
    name,
    target,
    async send(body, signal) {
      let status: number;
      try {
        status = await post(url, headers, body, signal);
      } catch (err) {
        throw new Error(clean(errorMessage(err)), { cause: err });
      }
      if (status >= 200 && status < 300) return;
      if (status >= 300 && status < 400) throw new DeliveryError(`HTTP ${status}: redirects are not followed; give the final URL`, false);
      throw new DeliveryError(`HTTP ${status}`, status >= 500 || RETRYABLE_STATUS.has(status));
    },
  };
}

/** Output of an alert command kept for the log, per stream: enough for an error message. */
const MAX_OUTPUT_CHARS = 4096;
/** How long the pipes of an ended alert command may stay open before they are closed from this side. */
const PIPE_GRACE_MS = 1000;

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  let cut = 0;
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const room = MAX_OUTPUT_CHARS - text.length;
    if (chunk.length > room) cut += chunk.length - Math.max(0, room);
    if (room > 0) text += chunk.slice(0, room);
  });
  stream?.on('error', () => undefined);
  return () => (cut > 0 ? `${text}…[${cut} more chars]` : text);
}

/**
 * Runs a hook or a log call: the caller's code, run from event handlers and timers here, where a throw would
 * stop delivery or become an uncaught exception in the supervisor.
 */
export function quietly(hook: () => void): void {
  try {
    hook();
  } catch {
    // Nothing to tell it to: the log itself may be what failed.
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Nothing left in the group.
  }
}


/**
 * `sh -c <command>` with the alert JSON on stdin. It runs in its own session: its own process group (killed
 * whole when the attempt times out, and afterwards, so a background job cannot outlive it) and no controlling
 * terminal, so neither the agent's terminal nor its signals reach it. Its output goes to the log.
 */
export function execSender(name: string, command: string, log: Pick<Logger, 'info'>, hooks: SpawnHooks): Sender {
  const target = redactCommand(command);
  return {
    name,
    target,
    send(body, signal) {
      return new Promise<void>((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        const pid = child.pid;
        // Without a pid it never started; with one, 'exit' follows whatever went wrong.
        child.on('error', (err) => {
          if (pid === undefined) reject(new Error(`cannot run /bin/sh: ${errorMessage(err)}`));
        });
        if (pid === undefined) return;
        quietly(() => hooks.onSpawn?.(pid));
        const stdout = collect(child.stdout);
        const stderr = collect(child.stderr);
        const kill = () => killGroup(pid);
        signal.addEventListener('abort', kill, { once: true });
        if (signal.aborted) kill();
        // A command that never reads its stdin closes it under us: that is its business, not a failure.
        child.stdin.on('error', () => undefined);
        child.stdin.end(`${body}\n`);
        child.once('exit', (code, sig) => {
          signal.removeEventListener('abort', kill);
          kill();
          quietly(() => hooks.onExit?.(pid));
          let done = false;
          const finish = () => {
            if (done) return;
            done = true;
            clearTimeout(grace);
            log.info({ channel: name, pid, code, signal: sig, stdout: stdout(), stderr: stderr() }, 'alert command ended');
            if (code === 0) resolve();
            else reject(new DeliveryError(sig ? `killed by ${sig}` : `exit code ${code}`, true));
          };
          // The output still in the pipes arrives after 'exit'; a descendant that left the group could hold
          // them open for good, so after a moment what was read is what is logged.
          const grace = setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            finish();
          }, PIPE_GRACE_MS);
          child.once('close', finish);
        });
      });
    },
  };
}
