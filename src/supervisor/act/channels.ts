// Alert channels: each alert at or above --alert-min-level goes to every --alert-webhook and --alert-exec. The
// tick that raises an alert must never wait for a network or a command, so deliver() only queues: each channel
// sends from its own bounded queue, one alert at a time (so in order), every attempt bounded by a timeout and
// retried with backoff. What a full queue or a dead endpoint costs is counted and logged, never waited for;
// alerts.jsonl is written before and apart from all of this.
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.js';
import { rank, type Level } from '../watch/policy.js';
import { DeliveryError, execSender, quietly, webhookSender, type Sender, type SpawnHooks } from './alert-senders.js';

/** An alert line as the journal holds it: its level and message, and any other fields, sent along as they are. */
export interface Alert {
  level: Level;
  message: string;
  [field: string]: unknown;
}

export interface DeliveryLimits {
  /** Alerts waiting per channel; a new one pushes out the oldest. */
  queue: number;
  /** Attempts per alert, the first included. */
  attempts: number;
  /** One attempt: connect, send, answer (or the command's whole run). */
  timeoutMs: number;
  /** Wait before the first retry; doubled for each further one, up to backoffMaxMs. */
  backoffMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_DELIVERY_LIMITS: DeliveryLimits = { queue: 100, attempts: 5, timeoutMs: 10_000, backoffMs: 1000, backoffMaxMs: 60_000 };

export interface AlertChannelsOptions extends SpawnHooks {
  webhooks: readonly string[];
  /** Shell commands, each run as `sh -c CMD` with the alert JSON on stdin. */
  exec: readonly string[];
  minLevel: Level;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Once per alert and channel: delivered (ok) or given up on (its attempts spent, or cut short by close). */
  onDelivery?: (channel: string, ok: boolean) => void;
  /** Once per alert a channel never tried: pushed out of a full queue, or still queued when close() ran out. */
  onDrop?: (channel: string) => void;
  limits?: Partial<DeliveryLimits>;
}

/** Discord refuses longer content; Slack cuts far later. */
const MAX_TEXT_CHARS = 2000;

/**
 * The alert as sent: when (`ts`, as the journals write it) and on which machine (`host`) it was raised, which
 * a receiver of many supervisors' alerts cannot tell otherwise, then its own fields, then the one line chat
 * webhooks show (`text`: Slack, `content`: Discord).
 */
export function alertPayload(alert: Alert, raised: { ts: string; host: string }): string {
  const line = `[${alert.level}] ${alert.message}`.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  const text = line.length > MAX_TEXT_CHARS ? `${line.slice(0, MAX_TEXT_CHARS - 1)}…` : line;
  return JSON.stringify({ ...raised, ...alert, text, content: text });
}

/** Equal jitter, as the restart backoff: half the delay fixed, half random. */
function retryDelay(failedAttempts: number, limits: DeliveryLimits): number {
  const full = Math.min(limits.backoffMaxMs, limits.backoffMs * 2 ** Math.min(failedAttempts - 1, 30));
  return Math.round(full / 2 + (full / 2) * Math.random());
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (waited: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(waited);
    };
    const onAbort = () => done(false);
    // Unref'd: a retry waiting is no reason for the process to stay; close() holds it while it flushes.
    const timer = setTimeout(() => done(true), ms).unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Names for metrics and logs: the webhook's host or the command's program, numbered when repeated. */
function channelNames(webhooks: readonly string[], exec: readonly string[]): string[] {
  const host = (raw: string) => {
    try {
      return new URL(raw).host;
    } catch {
      return 'invalid';
    }
  };
  const program = (command: string) => {
    const first = path.basename(/^\s*(\S+)/.exec(command)?.[1] ?? '');
    return /^[\w.-]{1,32}$/.test(first) && !first.includes('=') ? first : 'sh';
  };
  const seen = new Map<string, number>();
  return [...webhooks.map((w) => `webhook:${host(w)}`), ...exec.map((c) => `exec:${program(c)}`)].map((base) => {
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

interface Channel {
  readonly sender: Sender;
  readonly queue: string[];
  /** Alerts pushed out since the queue last ran empty: logged once when it starts and once when it ends. */
  dropped: number;
  pump?: Promise<void>;
}

export class AlertChannels {
  private readonly channels: Channel[];
  private readonly limits: DeliveryLimits;
  /** Aborted when close() runs out of grace: cuts the attempt in flight and any backoff short. */
  private readonly stop = new AbortController();
  private deadline?: number;
  private closing?: Promise<void>;

  /** Throws UsageError for a webhook that is not an http(s) URL; everything after construction never throws. */
  constructor(private readonly opts: AlertChannelsOptions) {
    this.limits = { ...DEFAULT_DELIVERY_LIMITS, ...opts.limits };
    const names = channelNames(opts.webhooks, opts.exec);
    const senders = [
      ...opts.webhooks.map((url, i) => webhookSender(names[i]!, url)),
      ...opts.exec.map((command, i) => execSender(names[opts.webhooks.length + i]!, command, opts.log, opts)),
    ];
    this.channels = senders.map((sender) => ({ sender, queue: [], dropped: 0 }));
  }

  /** Every channel's name, as onDelivery and onDrop report it: for metrics to start at zero. */
  get names(): string[] {
    return this.channels.map((c) => c.sender.name);
  }

  /** Every channel, redacted, for the log line that says where alerts go. */
  get targets(): string[] {
    return this.channels.map((c) => c.sender.target);
  }

  /** Queues `alert` on every channel when its level is high enough. Returns at once; never throws. */
  deliver(alert: Alert): void {
    if (this.channels.length === 0 || rank(alert.level) < rank(this.opts.minLevel)) return;
    let body: string;
    try {
      body = alertPayload(alert, { ts: new Date().toISOString(), host: hostname() });
    } catch (err) {
      quietly(() => this.opts.log.warn({ err: errorMessage(err) }, 'alert not sent: it cannot be written as JSON'));
      return;
    }
    for (const channel of this.channels) {
      if (this.closing) {
        this.dropped(channel, false);
        continue;
      }
      if (channel.queue.length >= this.limits.queue) {
        channel.queue.shift();
        this.dropped(channel);
      }
      channel.queue.push(body);
      // Sending starts after the caller's tick: even a spawn or a connection setup is not its cost.
      if (!channel.pump) channel.pump = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain(channel));
    }
  }

  /**
   * Stops taking alerts and sends what is queued for at most `graceMs`; then cuts the attempt in flight and
   * drops (counts) what is left. Resolves when every channel is idle.
   */
  close(graceMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.deadline = Date.now() + graceMs;
      const timer = setTimeout(() => this.stop.abort(), graceMs);
      await Promise.all(this.channels.map((c) => c.pump ?? Promise.resolve()));
      clearTimeout(timer);
    })();
    return this.closing;
  }

  private async drain(channel: Channel): Promise<void> {
    while (channel.queue.length > 0) {
      if (this.stop.signal.aborted) {
        const left = channel.queue.splice(0);
        left.forEach(() => this.dropped(channel, false));
        quietly(() => this.opts.log.warn({ channel: channel.sender.name, dropped: left.length }, 'alerts not sent before exit'));
        break;
      }
      const ok = await this.send(channel, channel.queue.shift()!);
      quietly(() => this.opts.onDelivery?.(channel.sender.name, ok));
      if (channel.dropped > 0 && channel.queue.length === 0) {
        const dropped = channel.dropped;
        quietly(() => this.opts.log.warn({ channel: channel.sender.name, dropped }, 'alerts dropped while the queue was full'));
        channel.dropped = 0;
      }
    }
    channel.pump = undefined;
  }

  /** One alert through all its attempts: true when delivered. */
  private async send(channel: Channel, body: string): Promise<boolean> {
    const { name, target } = channel.sender;
    for (let attempt = 1; ; attempt++) {
      const why = await this.attempt(channel.sender, body);
      if (why === undefined) {
        if (attempt > 1) quietly(() => this.opts.log.info({ channel: name, target, attempts: attempt }, 'alert delivered after retrying'));
        return true;
      }
      const delay = retryDelay(attempt, this.limits);
      const last = !why.retryable || attempt >= this.limits.attempts || this.stop.signal.aborted || (this.deadline !== undefined && Date.now() + delay >= this.deadline);
      if (last) {
        quietly(() => this.opts.log.warn({ channel: name, target, attempts: attempt, err: why.message }, 'alert not delivered; giving up'));
        return false;
      }
      quietly(() => this.opts.log.warn({ channel: name, target, attempt, err: why.message, retry_in_ms: delay }, 'alert delivery failed; retrying'));
      if (!(await pause(delay, this.stop.signal))) {
        quietly(() => this.opts.log.warn({ channel: name, target, attempts: attempt }, 'alert not delivered: the supervisor is exiting'));
        return false;
      }
    }
  }

  /** One attempt, bounded by the timeout and by close(): undefined when delivered, else why not. */
  private async attempt(sender: Sender, body: string): Promise<{ message: string; retryable: boolean } | undefined> {
    // One controller for both ends of an attempt; AbortSignal.any would hang a listener per attempt on the
    // long-lived stop signal until garbage collection.
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.limits.timeoutMs).unref();
    const onStop = () => ctl.abort();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      await sender.send(body, ctl.signal);
      return undefined;
    } catch (err) {
      if (timedOut) return { message: `no answer within ${this.limits.timeoutMs} ms`, retryable: true };
      if (this.stop.signal.aborted) return { message: 'cut short: the supervisor is exiting', retryable: false };
      return { message: errorMessage(err), retryable: !(err instanceof DeliveryError) || err.retryable };
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  /** `streak`: pushed out of a full queue (logged when a streak starts and ends), not left over at exit. */
  private dropped(channel: Channel, streak = true): void {
    if (streak && channel.dropped++ === 0) {
      quietly(() => this.opts.log.warn({ channel: channel.sender.name, queue: this.limits.queue }, 'alert queue full: dropping the oldest alerts'));
    }
    quietly(() => this.opts.onDrop?.(channel.sender.name));
  }
}
