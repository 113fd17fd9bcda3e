// `cfn-supervise dashboard [--port N]`: a live page of the supervisor's tree in the browser. A process of its
// own, a client of the control socket like `top`, so the supervisor spends nothing on it while no one watches
// (and only one status request per tick while someone does). It serves until Ctrl-C; when the supervisor goes
// away, the page says so and the dashboard waits for the next one on the same state dir.
import { UsageError } from '../common/errors.js';
import { ControlClient } from './client.js';
import { Feed } from './dashboard-feed.js';
import { startDashboard } from './dashboard-server.js';
import { notice, out } from './output.js';
import { fetchStatus } from './view.js';

const QUIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || n > 65535) throw new UsageError(`--port: expected a port from 0 to 65535 (0: any free one), got '${raw}'`);
  return n;
}

export async function dashboardCommand(stateDir: string, flags: { port?: string }): Promise<number> {
  const port = parsePort(flags.port);
  const client = new ControlClient(stateDir);
  // No supervisor, no dashboard: said at once, as `status` says it (exit 3).
  await fetchStatus(client);
  const dashboard = await startDashboard({
    client,
    feed: new Feed(client, stateDir),
    port,
    // Refusals are the page's business; only a request that failed in the dashboard itself (a bug) is said here.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: (o: { err?: string; url?: string }) => notice(`request ${o.url ?? ''} failed: ${o.err ?? 'unknown error'}`) },
  });
  out(dashboard.url);
  notice(`dashboard for ${stateDir} on 127.0.0.1:${dashboard.port}; open the URL above (it carries this run's token); Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    const quit = () => {
      for (const s of QUIT_SIGNALS) process.off(s, quit);
      resolve();
    };
    for (const s of QUIT_SIGNALS) process.on(s, quit);
  });
  await dashboard.close();
  return 0;
}
