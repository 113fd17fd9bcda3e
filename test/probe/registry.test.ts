import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProbeError, TimeoutError } from '../../src/common/errors.js';
import { Registry, type ProcessRecord } from '../../src/supervisor/probe-link/registry.js';

let dir: string;
let registry: Registry | undefined;
const sockets: net.Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cfn-registry-'));
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await registry?.close();
  registry = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const register = (pid: number): string =>
  `${JSON.stringify({ type: 'register', v: 1, pid, ppid: 1, argv: ['node', 'x.js'], heapSizeLimit: 1e9, nodeVersion: 'v20' })}\n`;

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

const nextRegister = (r: Registry): Promise<ProcessRecord> => new Promise((resolve) => r.once('register', resolve));

describe('Registry', () => {
  it('listens on an owner-only socket and replaces a stale socket file', async () => {
    const socketPath = path.join(dir, 'r.sock');
    // A supervisor killed outright leaves its socket file behind with nobody listening on it.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    registry = await Registry.listen(socketPath);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    await expect(Registry.listen(socketPath)).rejects.toThrow(/another process is listening/);
    writeFileSync(path.join(dir, 'plain'), '');
    await expect(Registry.listen(path.join(dir, 'plain'))).rejects.toThrow(/not a socket/);
  });

  it('drops malformed and oversized lines, registers valid ones, and reports the exit with its code', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxLineBytes: 1024 });
    const s = await connect(registry.socketPath);
    const registered = nextRegister(registry);
    s.write('not json\n');
    s.write(`${'x'.repeat(5000)}\n`);
    s.write('{"type":"register","v":1,"pid":-4}\n');
    s.write(`{"type":"register","v":99,"pid":7,"ppid":1,"argv":[],"heapSizeLimit":1,"nodeVersion":"v"}\n`);
    s.write(register(4242));
    const rec = await registered;
    expect(rec).toMatchObject({ pid: 4242, ppid: 1, argv: ['node', 'x.js'], heapSizeLimit: 1e9 });
    expect(registry.list().map((r) => r.pid)).toEqual([4242]);
    const exit = new Promise<[number, { code?: number }]>((resolve) => registry!.once('exit', (pid, info) => resolve([pid, info])));
    s.end('{"type":"exit","code":3}\n');
    expect(await exit).toEqual([4242, { code: 3 }]);
    expect(registry.get(4242)).toBeUndefined();
  });

  it('answers requests, times them out, bounds them, and rejects the pending ones when the process goes', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxPending: 2 });
    const s = await connect(registry.socketPath);
    s.setEncoding('utf8');
    const registered = nextRegister(registry);
    s.write(register(5151));
    await registered;
    let received = '';
    s.on('data', (d: string) => (received += d));

    const ok = registry.request(5151, { type: 'heap-stats' }, { timeoutMs: 2000 });
    await waitUntil(() => received.includes('"id"'));
    const id = (JSON.parse(received.trim().split('\n')[0]!) as { id: number }).id;
    s.write(`{"type":"reply","id":${id},"result":{"usedHeapSize":1}}\n`);
    await expect(ok).resolves.toEqual({ usedHeapSize: 1 });

    const late = registry.request(5151, { type: 'cdp', method: 'Runtime.getHeapUsage' }, { timeoutMs: 50 });
    await expect(late).rejects.toBeInstanceOf(TimeoutError);

    const a = registry.request(5151, { type: 'heap-stats' }, { timeoutMs: 5000 });
    const b = registry.request(5151, { type: 'heap-stats' }, { timeoutMs: 5000 });
    await expect(registry.request(5151, { type: 'heap-stats' }, { timeoutMs: 5000 })).rejects.toThrow(/already pending/);
    s.destroy();
    await expect(a).rejects.toBeInstanceOf(ProbeError);
    await expect(b).rejects.toThrow(/process exited/);
    expect(registry.send(5151, { type: 'memory-pressure', level: 'x' })).toBe(false);
  });

  it('refuses connections past its maximum', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxConnections: 1 });
    const first = await connect(registry.socketPath);
    const registered = nextRegister(registry);
    first.write(register(1111));
    await registered;
    const second = await connect(registry.socketPath);
    await new Promise((resolve) => second.once('close', resolve));
    expect(registry.list()).toHaveLength(1);
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}
