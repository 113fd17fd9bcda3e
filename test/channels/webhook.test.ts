// Webhook channels against real HTTP servers on 127.0.0.1: order and body, the level filter, retries and giving
// up, the queue bound, close(), secrets kept out of the log, and that a dead or hanging endpoint costs the
// caller nothing.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertChannels, type AlertChannelsOptions } from '../../src/supervisor/act/channels.js';
import { ISO_NOW, deadUrl, endpoint, recorder, sum, type Endpoint, type Recorder } from './helpers.js';

const open: { close(): Promise<void> }[] = [];
const channels: AlertChannels[] = [];

afterEach(async () => {
  await Promise.all(channels.splice(0).map((c) => c.close(0)));
  await Promise.all(open.splice(0).map((e) => e.close()));
});

async function server(answer?: Parameters<typeof endpoint>[0]): Promise<Endpoint> {
  const ep = await endpoint(answer);
  open.push(ep);
  return ep;
}

function make(rec: Recorder, opts: Partial<AlertChannelsOptions>): AlertChannels {
  const c = new AlertChannels({ webhooks: [], exec: [], minLevel: 'warning', log: rec.log, onDelivery: rec.onDelivery, onDrop: rec.onDrop, ...opts });
  channels.push(c);
  return c;
}

const alert = (i: number, level: 'info' | 'warning' | 'critical' = 'warning') => ({ level, message: `alert ${i}`, metric: 'rss', pid: 1000 + i, value: i });

describe('webhook channels', () => {
  it('POSTs every alert at or above the minimum level, in order, as JSON with a chat-ready text line', async () => {
    const ep = await server();
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url] });
    const sent: number[] = [];
    for (let i = 0; i < 30; i++) {
      const level = i % 3 === 0 ? 'info' : i % 3 === 1 ? 'warning' : 'critical';
      c.deliver(alert(i, level));
      if (level !== 'info') sent.push(i);
    }
    await expect.poll(() => ep.received.length, { timeout: 15_000 }).toBe(sent.length);
    expect(ep.received.map((r) => r.body.value)).toEqual(sent);
    const first = ep.received[0]!;
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.body).toEqual({
      ts: expect.stringMatching(ISO_NOW),
      host: hostname(),
      level: 'warning',
      message: 'alert 1',
      metric: 'rss',
      pid: 1001,
      value: 1,
      text: '[warning] alert 1',
      content: '[warning] alert 1',
    });
    expect(Math.abs(Date.parse(first.body.ts as string) - Date.now())).toBeLessThan(60_000);
    expect(ep.received[1]!.body.text).toBe('[critical] alert 2');
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 5000 }).toBe(sent.length);
    expect(c.names).toEqual([`webhook:127.0.0.1:${ep.port}`]);
    expect(sum(rec.failed) + sum(rec.dropped)).toBe(0);
  });

  it('sends a message of several lines as one line of text', async () => {
    const ep = await server();
    const rec = recorder();
    make(rec, { webhooks: [ep.url] }).deliver({ level: 'critical', message: 'heap at 91%\n  top site: leak.js:10\r\n' });
    await expect.poll(() => ep.received.length, { timeout: 15_000 }).toBe(1);
    expect(ep.received[0]!.body.text).toBe('[critical] heap at 91% top site: leak.js:10');
  });

  it('retries a failing endpoint with backoff and delivers once it recovers', async () => {
    const ep = await server((n) => (n < 2 ? 503 : 204));
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url], limits: { attempts: 4, backoffMs: 20 } });
    c.deliver(alert(1));
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(ep.received).toHaveLength(3);
    expect(rec.lines.filter((l) => l.msg === 'alert delivery failed; retrying').map((l) => l.err)).toEqual(['HTTP 503', 'HTTP 503']);
    expect(rec.lines.some((l) => l.msg === 'alert delivered after retrying' && l.attempts === 3)).toBe(true);
  });

  it('gives up after its attempts, counts the failure, and goes on with the next alert', async () => {
    const ep = await server((n) => (n < 3 ? 500 : 204));
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url], limits: { attempts: 3, backoffMs: 20 } });
    c.deliver(alert(1));
    c.deliver(alert(2));
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(rec.failed[c.names[0]!]).toBe(1);
    expect(ep.received.map((r) => r.body.value)).toEqual([1, 1, 1, 2]);
    expect(rec.lines.find((l) => l.msg === 'alert not delivered; giving up')).toMatchObject({ attempts: 3, err: 'HTTP 500' });
  });

  it('does not retry what cannot succeed: a 404 or a redirect', async () => {
    const ep = await server((n) => (n === 0 ? 404 : 302));
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url], limits: { attempts: 5, backoffMs: 20 } });
    c.deliver(alert(1));
    c.deliver(alert(2));
    await expect.poll(() => rec.failed[c.names[0]!], { timeout: 15_000 }).toBe(2);
    expect(ep.received).toHaveLength(2);
    expect(rec.lines.filter((l) => l.msg === 'alert not delivered; giving up').map((l) => l.err)).toEqual([
      'HTTP 404',
      'HTTP 302: redirects are not followed; give the final URL',
    ]);
  });

  it('keeps at most the queue bound: the oldest alerts are dropped and counted, the newest arrive in order', async () => {
    const ep = await server();
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url], limits: { queue: 5 } });
    for (let i = 0; i < 20; i++) c.deliver(alert(i));
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(5);
    expect(ep.received.map((r) => r.body.value)).toEqual([15, 16, 17, 18, 19]);
    expect(rec.dropped[c.names[0]!]).toBe(15);
    expect(rec.lines.filter((l) => l.msg === 'alert queue full: dropping the oldest alerts')).toHaveLength(1);
    expect(rec.lines.find((l) => l.msg === 'alerts dropped while the queue was full')).toMatchObject({ dropped: 15 });
  });

  it('close() cuts a hanging attempt at the end of its grace and counts what was left', async () => {
    const ep = await server(() => 'hang');
    const rec = recorder();
    const c = make(rec, { webhooks: [ep.url], limits: { timeoutMs: 60_000 } });
    for (let i = 0; i < 3; i++) c.deliver(alert(i));
    await expect.poll(() => ep.received.length, { timeout: 15_000 }).toBe(1);
    const started = performance.now();
    await c.close(300);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(rec.failed[c.names[0]!]).toBe(1);
    expect(rec.dropped[c.names[0]!]).toBe(2);
    await expect.poll(() => ep.abandoned, { timeout: 5000 }).toBe(1);
    c.deliver(alert(9));
    expect(rec.dropped[c.names[0]!]).toBe(3);
  });

  it('never logs the secrets of a webhook URL, and sends its credentials as a Basic header', async () => {
    const ep = await server(() => 500);
    const rec = recorder();
    const url = `http://alice:s3cretpw@127.0.0.1:${ep.port}/services/T0AAA/B0BBB/XXXXSECRETXXXX?token=tok123`;
    const c = make(rec, { webhooks: [url], limits: { attempts: 2, backoffMs: 20 } });
    c.deliver(alert(1));
    await expect.poll(() => rec.failed[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(ep.received[0]!.path).toBe('/services/T0AAA/B0BBB/XXXXSECRETXXXX?token=tok123');
    expect(ep.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cretpw').toString('base64')}`);
    const logged = rec.text();
    expect(logged).toContain('giving up');
    expect(logged).toContain(`http://***@127.0.0.1:${ep.port}/services/***/***/***?token=***`);
    for (const secret of ['alice', 's3cretpw', 'T0AAA', 'XXXXSECRETXXXX', 'tok123']) {
      expect(logged).not.toContain(secret);
      expect(c.targets.join(' ')).not.toContain(secret);
      expect(c.names.join(' ')).not.toContain(secret);
    }
  });

  it('refuses a webhook that is not an http(s) URL without repeating it', () => {
    const rec = recorder();
    expect(() => make(rec, { webhooks: ['ftp://user:pw@example.com/x'] })).toThrow(/got a ftp: one/);
    expect(() => make(rec, { webhooks: ['not a url token=abc'] })).toThrow(/got '\*\*\*'/);
  });

  it('deliver returns at once and a 1 s interval keeps time while 50 alerts go to a dead and to a hanging endpoint', async () => {
    const hanging = await server(() => 'hang');
    const dead = await deadUrl();
    const rec = recorder();
    const c = make(rec, { webhooks: [dead, hanging.url], limits: { timeoutMs: 400, attempts: 3, backoffMs: 50 } });
    const lateness: number[] = [];
    let due = performance.now() + 1000;
    const interval = setInterval(() => {
      const now = performance.now();
      lateness.push(now - due);
      due = now + 1000;
    }, 1000);
    const costs: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const before = performance.now();
        c.deliver(alert(i));
        costs.push(performance.now() - before);
        // Spread over three seconds, so attempts, timeouts and retries run while the interval ticks.
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
      await expect.poll(() => lateness.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(interval);
    }
    costs.sort((a, b) => a - b);
    const median = costs[costs.length >> 1]!;
    console.log(`deliver: median ${median.toFixed(3)} ms, max ${costs.at(-1)!.toFixed(3)} ms; interval late by at most ${Math.max(...lateness).toFixed(1)} ms`);
    expect(median).toBeLessThan(1);
    expect(costs.at(-1)!).toBeLessThan(50);
    expect(Math.max(...lateness)).toBeLessThan(250);
    const [deadName, hangName] = c.names as [string, string];
    expect(rec.failed[deadName]).toBeGreaterThan(0);
    expect(hanging.received.length).toBeGreaterThan(0);
    await c.close(200);
    // Every alert is accounted for on each channel: failed after its attempts, or dropped (queue or exit).
    for (const name of [deadName, hangName]) expect((rec.failed[name] ?? 0) + (rec.dropped[name] ?? 0)).toBe(50);
    expect(sum(rec.delivered)).toBe(0);
  });
});
