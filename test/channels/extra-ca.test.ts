// NODE_EXTRA_CA_CERTS is the user's: the launcher (bin/cfn-supervise) leaves it as given, to the supervisor's own
// node as to the agent, and an https webhook whose certificate only those extra certificates vouch for is delivered
// with node's own trust. A private CA made with openssl, a real https server on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { readJsonl, startCli, tempDir, waitFor } from '../helpers/cli.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function openssl(cwd: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

/** A CA and a certificate it signed for 127.0.0.1; returns the CA's file and the server's key and certificate. */
function privateCa(dir: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cfn-supervise test CA']);
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  return { ca: path.join(dir, 'ca.pem'), key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.pem')) };
}

function httpsHook(tls: { key: Buffer; cert: Buffer }, received: string[]): Promise<string> {
  const server = createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      res.end('ok');
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as { port: number }).port}/hook`)));
}

// Prints what it was given, then grows past the warning level so that an alert goes out.
const AGENT = `console.log('env ' + JSON.stringify({ extra: process.env.NODE_EXTRA_CA_CERTS ?? null, carried: Object.keys(process.env).filter((k) => k.startsWith('CFN_SUPERVISE_EXTRA')) }));
const kept = []; let n = 0; const t = setInterval(() => { kept.push(Buffer.alloc(24 * 1048576, 1)); if (++n === 4) clearInterval(t); }, 300); setInterval(() => {}, 1000);`;

async function superviseWithCa(env: NodeJS.ProcessEnv, hook: string) {
  const cwd = tempDir();
  const stateDir = path.join(cwd, 'state');
  const s = startCli(
    ['--state-dir', stateDir, '--min-free', '0', '--interval', '200', '--no-probe', '--warning', '60', '--critical', '1000', '--hard', '2000', '--alert-webhook', hook, '--', 'node', '-e', AGENT],
    { cwd, env },
  );
  return { s, stateDir, cwd };
}

it('leaves NODE_EXTRA_CA_CERTS as set, to its own node and to the agent, and delivers to an https webhook those certificates vouch for', async () => {
  const tls = privateCa(tempDir());
  const received: string[] = [];
  const hook = await httpsHook(tls, received);
  const { s } = await superviseWithCa({ NODE_EXTRA_CA_CERTS: tls.ca }, hook);
  await waitFor(() => received.length >= 1, 30_000, 'an alert at the https webhook');
  expect(JSON.parse(received[0]!)).toMatchObject({ level: 'warning' });
  // The environment the supervisor's node was started with (exec replaced the launcher's shell, same pid).
  const own = readFileSync(`/proc/${s.child.pid}/environ`, 'latin1').split('\0');
  expect(own).toContain(`NODE_EXTRA_CA_CERTS=${tls.ca}`);
  expect(own.filter((v) => v.startsWith('CFN_SUPERVISE_EXTRA'))).toEqual([]);
  const line = s.stdout().toString().split('\n').find((l) => l.startsWith('env '));
  expect(JSON.parse(line!.slice(4))).toEqual({ extra: tls.ca, carried: [] });
  s.child.kill('SIGTERM');
  await s.exited;
});

it('without the extra certificates the same webhook is refused for its certificate, and says so in the log', async () => {
  const tls = privateCa(tempDir());
  const received: string[] = [];
  const hook = await httpsHook(tls, received);
  const { s, stateDir } = await superviseWithCa({ NODE_EXTRA_CA_CERTS: '' }, hook);
  const failed = await waitFor(
    () => readJsonl(path.join(stateDir, 'supervisor.log')).find((l) => l.msg === 'alert delivery failed; retrying' || l.msg === 'alert not delivered; giving up'),
    30_000,
    'a failed delivery in the log',
  );
  expect(String(failed.err)).toMatch(/certificate/i);
  expect(received).toEqual([]);
  s.child.kill('SIGTERM');
  await s.exited;
});
