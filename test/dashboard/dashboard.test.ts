// `cfn-supervise dashboard` against a real supervisor, in headless Chromium: the page renders with no console
// error and nothing fetched from elsewhere, updates arrive over server-sent events, the buttons go through the
// supervisor's executor and its caps, markup from the tree stays text, and no request without the token (or
// with another Host) is served. CFN_SUPERVISE_SCREENSHOT=docs/dashboard.png keeps the screenshot it takes.
import { writeFileSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLIENTS } from '../../src/cli/dashboard-server.js';
import { type Started, fixture, runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { Chromium, type Page, pngSize } from '../report/chromium.js';
import { type Supervised, startSupervised } from '../views/supervised.js';

const LONG = 30_000;
let sup: Supervised;
let dashboard: Started;
let url: URL;
let browser: Chromium;
let page: Page;

function raw(path_: string, opts: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: url.port, path: path_, method: opts.method ?? 'GET', headers: { host: opts.host ?? url.host, ...opts.headers }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const text = (selector: string) => page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? ''`);
const click = (selector: string) => page.evaluate<boolean>(`(() => { const b = document.querySelector(${JSON.stringify(selector)}); if (!b) return false; b.click(); return true; })()`);
const updates = async () => Number(await page.evaluate<string>('document.body.dataset.updates'));

beforeAll(async () => {
  sup = await startSupervised([fixture('dashboard/agent.cjs')], ['--interval', '250', '--max-captures', '1', '--sampling-interval', '65536'], 'file');
  dashboard = startCli(['dashboard', '--state-dir', sup.stateDir], { cwd: sup.base, scope: 'file' });
  const line = await waitFor(() => /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/m.exec(dashboard.stdout().toString())?.[0], LONG, 'the dashboard URL');
  url = new URL(line);
  browser = new Chromium('1400,1000');
  page = await browser.open(url.href);
  // Three node processes drawn: the agent, its child, and the supervisor's view of both with a heap.
  await waitFor(async () => (await page.evaluate<number>("document.querySelectorAll('#processes tr').length")) >= 2, LONG, 'the process rows');
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe('cfn-supervise dashboard', () => {
  it('prints one URL on 127.0.0.1 and serves nothing without its token, or under another name', async () => {
    expect(dashboard.stdout().toString().trim().split('\n')).toHaveLength(1);
    expect((await raw('/')).status).toBe(401);
    expect((await raw('/events')).status).toBe(401);
    expect((await raw(`/?token=${'A'.repeat(43)}`)).status).toBe(401);
    const token = url.searchParams.get('token')!;
    // DNS rebinding: the right token under a name of the attacker's is still refused.
    expect((await raw(`/?token=${token}`, { host: `evil.example:${url.port}` })).status).toBe(403);
    // A forged cross-site POST carries the cookie, never the header.
    const forged = await raw('/api/gc', { method: 'POST', headers: { cookie: `cfn_dashboard=${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(forged.status).toBe(401);
    const crossOrigin = await raw('/api/gc', { method: 'POST', headers: { 'x-cfn-token': token, origin: 'http://evil.example' }, body: '{}' });
    expect(crossOrigin.status).toBe(403);
    expect((await raw(`/?token=${token}`)).status).toBe(200);
  });

  it('renders with no console error, fetches nothing from elsewhere, and drops the token from the address bar', async () => {
    expect(page.problems.errors).toEqual([]);
    expect(page.problems.failed).toEqual([]);
    expect(page.problems.requests.filter((u) => !u.startsWith(url.origin) && !u.startsWith('data:'))).toEqual([]);
    expect(await page.evaluate<string>('location.href')).toBe(`${url.origin}/`);
  });

  it(`keeps at most ${MAX_CLIENTS} pages listening`, async () => {
    const cookie = `cfn_dashboard=${url.searchParams.get('token')!}`;
    const streams: ClientRequest[] = [];
    const open = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: url.port, path: '/events', headers: { cookie, host: url.host } }, (res) => {
          resolve(res.statusCode ?? 0);
          if (res.statusCode !== 200) res.resume();
        });
        req.on('error', reject);
        streams.push(req);
        req.end();
      });
    try {
      // The page holds one.
      for (let i = 1; i < MAX_CLIENTS; i++) expect(await open()).toBe(200);
      expect(await open()).toBe(429);
    } finally {
      for (const s of streams) s.destroy();
    }
    // A page closed makes room again.
    await waitFor(async () => {
      const status = await open();
      streams.pop()!.destroy();
      return status === 200;
    }, LONG, 'room for a page');
  });

  it('updates live: new events, the tree with RSS, heap and external memory, sparklines drawn', async () => {
    const first = await updates();
    await waitFor(async () => (await updates()) >= first + 3, LONG, 'three more updates');
    const agentPid = (await sup.client.request<{ agent: { pid: number } }>('GET', '/status')).agent.pid;
    const row = `#processes tr[data-pid="${agentPid}"]`;
    expect(await text(`${row} td.rss`)).toMatch(/^\d+(\.\d)? MB$/);
    await waitFor(async () => /MB \/ \d+ MB/.test(await text(`${row} td.heap`)), LONG, 'the agent heap');
    await waitFor(async () => /^\d+(\.\d)? MB$/.test(await text(`${row} td.external`)), LONG, 'the agent external memory');
    expect(await text(`${row} td.level-ok`)).toBe('ok');
    await waitFor(async () => (await page.evaluate<string>(`document.querySelector('${row} svg.rss polyline').getAttribute('points')`)).split(' ').length > 3, LONG, 'a sparkline');
  });

  it('shows markup from the tree as text and runs none of it', async () => {
    await waitFor(async () => (await text('#processes')).includes('<script>window.pwned=2</script>'), LONG, 'the child row');
    expect(await page.evaluate<unknown>('window.pwned ?? null')).toBeNull();
    expect(await page.evaluate<number>("document.querySelectorAll('#processes img, #processes script').length")).toBe(0);
  });

  it('collects garbage through the supervisor and shows its reply', async () => {
    expect(await click('h2 button[data-action="gc"]')).toBe(true);
    await waitFor(async () => /heap [\d.]+ [KM]iB → [\d.]+ [KM]iB/.test(await text('#reply')), LONG, 'the GC reply');
  });

  it('captures through the supervisor, lists it, and draws its call tree and top sites', async () => {
    const agentPid = (await sup.client.request<{ agent: { pid: number } }>('GET', '/status')).agent.pid;
    expect(await click(`#processes tr[data-pid="${agentPid}"] button[data-action="capture"]`)).toBe(true);
    const reply = await waitFor(async () => /^captured (\S+\.heapprofile)$/.exec(await text('#reply'))?.[1], 60_000, 'the capture reply');
    const name = path.basename(reply);
    await waitFor(async () => (await text('#captures')).includes(name), LONG, 'the capture in the list');
    expect(await click(`#captures button[data-file="${name}"]`)).toBe(true);
    await waitFor(async () => (await page.evaluate<number>("document.querySelectorAll('#sites tr').length")) > 0, LONG, 'the top sites');
    expect(await text('#sites')).toMatch(/rememberTurn/);
    await waitFor(() => page.evaluate<boolean>("(() => { const i = document.getElementById('icicle'); return i.complete && i.naturalWidth > 300 && i.naturalHeight > 30; })()"), LONG, 'the icicle');
  });

  it("is held by the run's capture cap like any capture", async () => {
    expect(await click('h2 button[data-action="capture"]')).toBe(true);
    await waitFor(async () => /^capture: the run's capture cap \(--max-captures 1\) is reached/.test(await text('#reply.error')), LONG, 'the refusal');
  });

  it('shows a new alert as it is raised', async () => {
    await sup.client.request('PATCH', '/config', { body: { warning: 1 } });
    await waitFor(async () => /warning/.test(await text('#alerts')), LONG, 'an alert on the page');
  });

  it('takes a screenshot with no console error on the way', async () => {
    await page.evaluate('window.scrollTo(0, 0)');
    const png = await page.screenshot();
    expect(pngSize(png).width).toBeGreaterThan(1000);
    writeFileSync(process.env.CFN_SUPERVISE_SCREENSHOT ?? path.join(tempDir('cfn-dashboard-shot-', 'file'), 'dashboard.png'), png);
    expect(page.problems.errors).toEqual([]);
    expect(page.problems.failed).toEqual([]);
  });

  it('says so while the supervisor does not answer, and carries on when it does', async () => {
    process.kill(sup.supervisor.child.pid!, 'SIGSTOP');
    try {
      await waitFor(async () => (await page.evaluate<string>('document.body.dataset.supervisor')) === 'unresponsive', LONG, 'the page to say the supervisor is stopped');
      expect(await text('#banner')).toMatch(/The supervisor does not answer: .*stopped/);
    } finally {
      process.kill(sup.supervisor.child.pid!, 'SIGCONT');
    }
    await waitFor(async () => (await page.evaluate<string>('document.body.dataset.supervisor')) === 'up', LONG, 'the page to be live again');
    expect(await page.evaluate<boolean>("document.getElementById('banner').hidden")).toBe(true);
  });

  it('says so when the supervisor goes, and ends cleanly on Ctrl-C', async () => {
    sup.supervisor.child.kill('SIGTERM');
    await sup.supervisor.exited;
    await waitFor(async () => (await page.evaluate<string>('document.body.dataset.supervisor')) === 'gone', LONG, 'the page to say the supervisor went');
    expect(await text('#banner')).toMatch(/The supervisor has gone: .*Waiting for it\./);
    dashboard.child.kill('SIGINT');
    const { code } = await dashboard.exited;
    expect(code).toBe(0);
    expect(dashboard.stderr().toString()).toMatch(/^cfn-supervise: dashboard for .* Ctrl-C to stop\n$/);
  });
});

describe('cfn-supervise dashboard without a supervisor', () => {
  it('says so in one line and exits 3; a bad flag is one line and exit 2', async () => {
    const base = tempDir('cfn-dashboard-none-');
    const none = await runCli(['dashboard', '--state-dir', path.join(base, 'state')], { cwd: base });
    expect(none.code).toBe(3);
    expect(none.stdout.toString()).toBe('');
    expect(none.stderr.toString()).toMatch(/^cfn-supervise: no supervisor is running in .*\n$/);
    for (const args of [['--port', 'x'], ['--port', '70000'], ['--bogus']]) {
      const bad = await runCli(['dashboard', ...args], { cwd: base });
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr.toString(), args.join(' ')).toMatch(/^cfn-supervise: [^\n]+\n$/);
    }
  });
});
