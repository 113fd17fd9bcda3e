// Issue 13, item 4, wired: a real supervisor posts its alerts to a local webhook, in order, while a dead and a
// hanging endpoint cost it nothing, and /metrics counts what was delivered.
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { readJsonl, scrape, startCli, tempDir, waitFor } from '../helpers/cli.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook?token=s3cret`)));
}

it('posts each alert at or above the level to the webhook, in order; dead and hanging endpoints do not hold the tick', async () => {
  const cwd = tempDir();
  const stateDir = path.join(cwd, 'state');
  const received: { ts: string; host: string; level: string; message: string; text: string }[] = [];
  const live = await listen((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { ts: string; host: string; level: string; message: string; text: string });
      res.end('ok');
    });
  });
  const hanging = await listen(() => {});
  const dead = 'http://127.0.0.1:9/never';
  const agent = 'const kept = []; let n = 0; const t = setInterval(() => { kept.push(Buffer.alloc(24 * 1048576, 1)); if (++n === 8) clearInterval(t); }, 300); setInterval(() => {}, 1000);';
  const s = startCli(
    ['--state-dir', stateDir, '--min-free', '0', '--interval', '200', '--no-probe', '--warning', '60', '--critical', '120', '--hard', '1000',
      '--alert-webhook', live, '--alert-webhook', hanging, '--alert-webhook', dead, '--', 'node', '-e', agent],
    { cwd },
  );
  const alertsFile = path.join(stateDir, 'alerts.jsonl');
  await waitFor(() => received.length >= 2, 30_000, 'two alerts at the webhook');
  const journal = readJsonl(alertsFile).filter((a) => a.level === 'warning' || a.level === 'critical');
  expect(received.map((a) => a.level)).toEqual(journal.map((a) => a.level).slice(0, received.length));
  expect(received[0]!.text).toBe(`[${received[0]!.level}] ${received[0]!.message}`);
  // When and where it was raised: the journal line's time, give or take the queueing, and this machine.
  expect(Math.abs(Date.parse(received[0]!.ts) - Date.parse(journal[0]!.ts as string))).toBeLessThan(1000);
  expect(received[0]!.host).toBe(hostname());
  // Ticks kept their cadence while two endpoints never answered: about five a second.
  const count = async () => Number(/^cfn_supervise_sample_duration_seconds_count (\d+)/m.exec(await scrape(stateDir))?.[1]);
  const before = await count();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect((await count()) - before).toBeGreaterThanOrEqual(6);
  const text = await scrape(stateDir);
  const delivered = [...text.matchAll(/^cfn_supervise_alert_deliveries_total\{channel="([^"]+)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]);
  expect(delivered).toContainEqual([expect.any(String), received.length]);
  // The token in the URL is never logged.
  expect(readFileSync(path.join(stateDir, 'supervisor.log'), 'utf8')).not.toMatch(/s3cret/);
  expect(existsSync(alertsFile)).toBe(true);
  s.child.kill('SIGTERM');
  await s.exited;
});
