// Secrets in the alert channels' configuration never leave the supervisor: not in any route of the control
// server, not in any subcommand's output, not in anything written to the state dir. The webhook carries a
// password and a token, the command a bearer header.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../../src/common/errors.js';
import { Metrics } from '../../src/supervisor/control/metrics.js';
import type { ControlHandlers } from '../../src/supervisor/control/protocol.js';
import { controlRoutes } from '../../src/supervisor/control/routes.js';
import { fixture } from '../helpers/cli.js';
import { startSupervised, type Supervised } from './supervised.js';

const SECRETS = ['hunter2pw', 'tok3nSECRET', 'b3arerSECRET'];
const FLAGS = [
  '--alert-webhook', `https://alice:${SECRETS[0]}@hooks.example.invalid/alerts?token=${SECRETS[1]}`,
  '--alert-exec', `curl -s -H "Authorization: Bearer ${SECRETS[2]}" https://hooks.example.invalid/x`,
];

const leaked = (text: string) => SECRETS.filter((s) => text.includes(s));

/** Every file under `dir`, as text. */
function filesUnder(dir: string): { file: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) return [];
    if (st.isDirectory()) return filesUnder(file);
    return st.isFile() ? [{ file, text: readFileSync(file, 'latin1') }] : [];
  });
}

let s: Supervised;
beforeAll(async () => {
  s = await startSupervised([fixture('control/agent.cjs')], FLAGS, 'file');
});

describe('secrets of the alert channels', () => {
  it('appear in no route of the control server', async () => {
    const routes = controlRoutes({} as ControlHandlers, new Metrics());
    const bodies: Record<string, unknown> = { '/capture': { kind: 'profile' } };
    const seen: string[] = [];
    // restart last: it ends the run the other routes act on.
    const names = Object.keys(routes).sort((a, b) => Number(a === '/restart') - Number(b === '/restart'));
    for (const route of names) {
      for (const method of Object.keys(routes[route]!)) {
        const body = method === 'GET' ? undefined : (bodies[route] ?? {});
        const answer = await s.client.request<unknown>(method, route, body === undefined ? {} : { body }).catch((err: unknown) => errorMessage(err));
        const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
        seen.push(`${method} ${route}`);
        expect({ route: `${method} ${route}`, leaked: leaked(text) }).toEqual({ route: `${method} ${route}`, leaked: [] });
      }
    }
    expect(seen).toEqual(expect.arrayContaining(['GET /status', 'GET /processes', 'GET /config', 'PATCH /config', 'GET /metrics', 'POST /restart']));
    const status = await s.client.request<{ thresholds: Record<string, unknown> }>('GET', '/status?processes=1');
    expect(leaked(JSON.stringify(status))).toEqual([]);
  });

  it("appear in no subcommand's output", async () => {
    const commands = [
      ['status'],
      ['status', '--json'],
      ['diagnostics'],
      ['diagnostics', '--json'],
      ['config', '--live'],
      ['config', '--live', '--json'],
      ['config', ...FLAGS],
      ['config', '--json', ...FLAGS],
      ['report'],
      ['report', '--json'],
      ['report', '--html', path.join(s.base, 'report.html')],
      ['gc'],
      ['cleanup'],
      ['capture'],
    ];
    for (const args of commands) {
      const { code, stdout, stderr } = await s.cli(args);
      expect({ args, code, leaked: leaked(stdout.toString() + stderr.toString()) }).toEqual({ args, code: 0, leaked: [] });
    }
    expect(leaked(readFileSync(path.join(s.base, 'report.html'), 'utf8'))).toEqual([]);
    expect(leaked(s.supervisor.stderr().toString() + s.supervisor.stdout().toString())).toEqual([]);
  });

  it('appear in no file of the state dir', () => {
    const files = filesUnder(s.stateDir).filter((f) => leaked(f.text).length > 0).map((f) => f.file);
    expect(files).toEqual([]);
  });
});
