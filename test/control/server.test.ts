import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/client.js';
import { fetchStatus } from '../../src/cli/view.js';
import { HttpError, NoSupervisorError } from '../../src/common/errors.js';
import { startControl } from '../../src/supervisor/control/server.js';
import { MAX_BODY_BYTES, controlPaths } from '../../src/supervisor/control/protocol.js';
import { MAX_ROLES, Metrics } from '../../src/supervisor/control/metrics.js';
import { MAX_SOCKET_PATH_BYTES } from '../../src/common/statedir.js';
import { onCleanup, tempDir } from '../helpers/cli.js';
import { expectNoListenAfterClose } from '../helpers/kept-socket.js';
import { PROCESSES, TICK, send, silentLog, testHandlers } from './harness.js';

const mode = (p: string) => statSync(p).mode & 0o777;

async function start(extra: { controlPort?: number; metricsPort?: number; stateDir?: string } = {}) {
  const stateDir = extra.stateDir ?? path.join(tempDir('cfn-control-'), 'state');
  const { handlers, calls } = testHandlers(stateDir);
  const metrics = new Metrics();
  const server = await startControl(handlers, { stateDir, metrics, log: silentLog, ...extra });
  onCleanup(() => server.close());
  return { server, calls, metrics, stateDir, target: { socketPath: server.socketPath } };
}


describe('control socket', () => {
  it('listens owner-only in the private state dir and answers status and processes', async () => {
    const { server, stateDir, target } = await start();
    expect(server.socketPath).toBe(path.join(stateDir, 'control.sock'));
    expect(mode(server.socketPath)).toBe(0o600);
    expect(mode(stateDir)).toBe(0o700);
    const status = await send(target, 'GET', '/status');
    expect(status.status).toBe(200);
    expect(status.headers['content-type']).toBe('application/json');
    expect(status.json().agent.run_id).toBe('abcd-1');
    expect(status.json().processes).toBeUndefined();
    expect((await send(target, 'GET', '/processes')).json().processes).toEqual(PROCESSES);
    const both = (await send(target, 'GET', '/status?processes=1')).json();
    expect(both.agent.run_id).toBe('abcd-1');
    expect(both.processes).toEqual(PROCESSES);
    await server.close();
    expect(existsSync(server.socketPath)).toBe(false);
  });

  it('refuses bad requests with a status and a message, and keeps serving', async () => {
    const { target, calls } = await start();
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ['GET', '/nope', undefined, 404, /no route \/nope/],
      ['DELETE', '/status', undefined, 405, /DELETE is not allowed/],
      ['POST', '/capture', '{"kind": "profile"', 400, /malformed JSON/],
      ['POST', '/capture', '{"kind": "flamegraph"}', 400, /kind/],
      ['POST', '/capture', '{"seconds": -3}', 400, /seconds/],
      ['POST', '/capture', '{"seconds": 100000}', 400, /seconds/],
      ['POST', '/capture', '{"pid": "42"}', 400, /pid/],
      ['POST', '/capture', '{"pid": 1, "extra": true}', 400, /extra/],
      ['POST', '/capture', '[1,2]', 400, /invalid request body/],
      ['POST', '/gc', '{"pid": 1.5}', 400, /pid/],
      ['POST', '/cleanup', '{"force": true}', 400, /force/],
      ['PATCH', '/config', '"interval"', 400, /invalid request body/],
      ['PATCH', '/config', '{"interval": 10}', 400, /at least 50 ms/],
      ['PATCH', '/config', '{"nope": 1}', 400, /unknown option/],
      ['POST', '/capture', '{"pid": 999}', 404, /no node process 999/],
      ['POST', '/gc', '{"pid": 409}', 409, /cooling down/],
      ['POST', '/restart', undefined, 500, /restart exploded/],
    ];
    for (const [method, route, body, status, message] of cases) {
      const reply = await send(target, method, route, { body });
      expect({ method, route, body, status: reply.status }).toEqual({ method, route, body, status });
      expect(reply.json().error.status).toBe(status);
      expect(reply.json().error.message).toMatch(message);
    }
    // Only the well-formed requests reached the handlers.
    expect(calls.map((c) => c.name)).toEqual(['patchConfig', 'patchConfig', 'capture', 'gc', 'restart']);
    expect((await send(target, 'GET', '/status')).status).toBe(200);
  });

  it('answers 413 to oversized bodies, declared or streamed, and keeps serving', async () => {
    const { target, calls } = await start();
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    expect((await send(target, 'POST', '/gc', { body: big })).status).toBe(413);
    const chunked = await send(target, 'POST', '/gc', { body: Buffer.alloc(4 * MAX_BODY_BYTES, 0x20), headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
    expect(chunked.json().error.message).toMatch(/request body over/);
    expect(calls).toEqual([]);
    expect((await send(target, 'POST', '/gc', { body: '{}' })).status).toBe(200);
  });

  it('drops malformed HTTP without disturbing other clients', async () => {
    const { target } = await start();
    const answer = await new Promise<string>((resolve) => {
      const s = connect(target.socketPath, () => s.write('\x00\x01 not http at all\r\n\r\n'));
      let text = '';
      s.on('data', (b) => (text += b.toString()));
      s.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await send(target, 'GET', '/status')).status).toBe(200);
  });

  it('applies a valid config patch at run time', async () => {
    const { target } = await start();
    const patched = await send(target, 'PATCH', '/config', { body: '{"interval": 250}' });
    expect(patched.status).toBe(200);
    expect(patched.json()).toEqual({ interval: 250 });
    expect((await send(target, 'GET', '/config')).json()).toEqual({ interval: 250 });
    expect((await send(target, 'GET', '/status')).json().supervisor.interval_ms).toBe(250);
  });

  it('returns a capture as JSON, or streams its progress as NDJSON when asked', async () => {
    const { target } = await start();
    const plain = await send(target, 'POST', '/capture', { body: '{"seconds": 1}' });
    expect(plain.json()).toEqual({ file: '/captures/profile.heapprofile', pid: 4242, kind: 'profile' });
    const streamed = await send(target, 'POST', '/capture', { body: '{"kind": "snapshot"}', headers: { accept: 'application/x-ndjson' } });
    expect(streamed.headers['content-type']).toBe('application/x-ndjson');
    const lines = streamed.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.progress).map((l) => l.progress.done)).toEqual([0, 1, 2, 3, 4].map((n) => n * 1048576));
    expect(lines.at(-1)).toEqual({ result: { file: '/captures/snapshot.heapsnapshot', pid: 4242, kind: 'snapshot' } });
    const failed = await send(target, 'POST', '/capture', { body: '{"pid": 999}', headers: { accept: 'application/x-ndjson' } });
    expect(failed.text.trim().split('\n').map((l) => JSON.parse(l)).at(-1)).toEqual({ error: { status: 404, message: 'no node process 999 in the agent tree' } });
  });

  it('refuses to start beside a live supervisor and replaces a stale socket', async () => {
    const { stateDir } = await start();
    await expect(startControl(testHandlers(stateDir).handlers, { stateDir, metrics: new Metrics(), log: silentLog })).rejects.toThrow(/already running/);
    const other = path.join(tempDir('cfn-control-'), 'state');
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(path.join(other, 'control.sock'), 'left by a dead supervisor');
    const { target } = await start({ stateDir: other });
    expect((await send(target, 'GET', '/status')).status).toBe(200);
  });

  it('never listens again once closed: not after its close, nor when closed while listening again', async () => {
    await expectNoListenAfterClose(async () => (await start()).server);
  });

  it('puts a socket whose path would be too long in a private runtime folder and leaves a pointer', async () => {
    const base = tempDir('cfn-control-');
    const stateDir = path.join(base, 'a-rather-long-folder-name-'.repeat(4), 'state');
    expect(Buffer.byteLength(path.join(stateDir, 'control.sock'))).toBeGreaterThan(MAX_SOCKET_PATH_BYTES);
    const { server } = await start({ stateDir });
    // The runtime folder is kept for the next run on this state dir: the test removes it.
    onCleanup(() => rmSync(path.dirname(server.socketPath), { recursive: true, force: true }));
    expect(path.dirname(server.socketPath)).not.toBe(stateDir);
    expect(Buffer.byteLength(server.socketPath)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(mode(server.socketPath)).toBe(0o600);
    expect(mode(path.dirname(server.socketPath))).toBe(0o700);
    const pointer = controlPaths(stateDir).pointer;
    expect(readFileSync(pointer, 'utf8').trim()).toBe(server.socketPath);
    expect(mode(pointer)).toBe(0o600);
    expect(controlPaths(stateDir).socket).toBe(server.socketPath);
    expect((await new ControlClient(stateDir).request<{ agent: { pid: number } }>('GET', '/status')).agent.pid).toBe(4242);
    await server.close();
    expect(existsSync(server.socketPath)).toBe(false);
    expect(existsSync(pointer)).toBe(false);
  });
});

describe('control client', () => {
  it('says plainly when no supervisor runs in the state dir', async () => {
    const dir = tempDir('cfn-control-');
    await expect(new ControlClient(dir).request('GET', '/status')).rejects.toThrow(new NoSupervisorError(`no supervisor is running in ${dir}`));
  });

  it('turns error replies into HttpError and reads streamed results', async () => {
    const { stateDir } = await start();
    const client = new ControlClient(stateDir);
    const err = await client.request('POST', '/capture', { body: { kind: 'bogus' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    const seen: unknown[] = [];
    const result = await client.request('POST', '/capture', { body: { kind: 'snapshot' }, onLine: (l) => seen.push(l) });
    expect(result).toMatchObject({ kind: 'snapshot' });
    expect(seen.length).toBe(5);
    await expect(client.request('POST', '/capture', { body: { pid: 999 }, onLine: () => {} })).rejects.toThrow(/no node process 999/);
  });
});

describe('TCP listeners', () => {
  it("reads a status from a supervisor that answers /status without the process list (one started before it)", async () => {
    const stateDir = path.join(tempDir('cfn-control-'), 'state');
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const old = createServer((req, res) => {
      const body = req.url?.startsWith('/status') ? { pid: 1 } : req.url === '/processes' ? { processes: PROCESSES } : {};
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => old.listen(controlPaths(stateDir).socket, resolve));
    try {
      expect(await fetchStatus(new ControlClient(stateDir))).toEqual({ status: { pid: 1 }, processes: PROCESSES });
    } finally {
      await new Promise((resolve) => old.close(resolve));
    }
  });

  it('demands the bearer token from the 0600 token file on the control port', async () => {
    const { server, stateDir } = await start({ controlPort: 0 });
    const tcp = { port: server.controlPort! };
    const tokenFile = controlPaths(stateDir).token;
    expect(mode(tokenFile)).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const without = await send(tcp, 'GET', '/status');
    expect(without.status).toBe(401);
    expect(without.headers['www-authenticate']).toBe('Bearer');
    expect((await send(tcp, 'GET', '/status', { headers: { authorization: `Bearer ${'0'.repeat(64)}` } })).status).toBe(401);
    expect((await send(tcp, 'GET', '/status', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    const withToken = await send(tcp, 'GET', '/status', { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(200);
    expect(withToken.json().agent.restarts).toBe(2);
    // Bad requests behind the token are refused like on the socket.
    expect((await send(tcp, 'POST', '/gc', { body: '{', headers: { authorization: `Bearer ${token}` } })).status).toBe(400);
    await server.close();
    // The token survives a restart of the supervisor, so scripts keep working.
    const again = await start({ controlPort: 0, stateDir });
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(token);
    expect((await send({ port: again.server.controlPort! }, 'GET', '/config', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('serves /metrics alone on the metrics port, on loopback', async () => {
    const { server } = await start({ metricsPort: 0 });
    const port = server.metricsPort!;
    const metrics = await send({ port }, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.text).toMatch(/cfn_supervise_agent_tree_resident_memory_bytes/);
    expect((await send({ port }, 'GET', '/status')).status).toBe(404);
    expect((await send({ port }, 'POST', '/restart')).status).toBe(404);
  });
});

describe('metrics', () => {
  function promtool(): string {
    const found = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
    if (!found) throw new Error('promtool is missing: apt-get install prometheus (.ci/run installs it)');
    return found;
  }

  it('passes promtool check metrics', async () => {
    const { target, metrics } = await start();
    metrics.observeTick(TICK);
    metrics.observeTick({ processes: [...TICK.processes, { ...TICK.processes[1]!, pid: 4245 }], durationMs: 12 });
    metrics.agentRunning(true);
    metrics.countRestart('oom');
    metrics.countExit('oom');
    metrics.countExit('crash');
    metrics.countAlert('warning');
    metrics.countCapture('profile');
    const text = (await send(target, 'GET', '/metrics')).text;
    const check = execFileSync(promtool(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check).toBe('');
    // The checker does reject what is invalid, so the pass above means something.
    expect(() => execFileSync(promtool(), ['check', 'metrics'], { input: `${text}broken{ 1\n`, stdio: 'pipe' })).toThrow();
    expect(text).toMatch(/^cfn_supervise_agent_processes\{role="node:worker.js"\} 2$/m);
    expect(text).toMatch(/^cfn_supervise_agent_process_resident_memory_bytes\{role="node:worker.js"\} 100663296$/m);
    expect(text).toMatch(/^cfn_supervise_agent_tree_processes 4$/m);
    expect(text).toMatch(/^cfn_supervise_restarts_total\{reason="oom"\} 1$/m);
    expect(text).toMatch(/^cfn_supervise_sample_duration_seconds_count 2$/m);
    expect(text).toMatch(/^cfn_supervise_self_resident_memory_bytes \d+$/m);
    expect(text).not.toMatch(/4242|4243/);
  });

  it('drops exited processes and folds roles past the cap into "other"', async () => {
    const metrics = new Metrics();
    metrics.observeTick(TICK);
    metrics.observeTick({ processes: TICK.processes.slice(0, 1) });
    expect(metrics.render()).not.toMatch(/role="sh"/);
    const fresh = new Metrics();
    const many = Array.from({ length: MAX_ROLES + 10 }, (_, i) => ({ ...TICK.processes[2]!, pid: 5000 + i, role: `tool-${i}` }));
    fresh.observeTick({ processes: many });
    const text = fresh.render();
    expect(new Set([...text.matchAll(/cfn_supervise_agent_processes\{role="([^"]+)"\}/g)].map((m) => m[1])).size).toBe(MAX_ROLES + 1);
    expect(text).toMatch(/^cfn_supervise_agent_processes\{role="other"\} 10$/m);
  });
});
