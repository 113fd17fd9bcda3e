import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT, HttpError, ProbeError, TimeoutError } from '../../src/common/errors.js';
import { errorStatus } from '../../src/supervisor/control/http.js';
import { Registry, type ProcessRecord, type Rejection } from '../../src/supervisor/probe-link/registry.js';
import { onCleanup, spawnTracked, tempDir } from '../helpers/cli.js';
import { expectNoListenAfterClose } from '../helpers/kept-socket.js';
import { FIXTURES, unprobedEnv } from './helpers.js';

let dir: string;
let registry: Registry | undefined;
const sockets: net.Socket[] = [];

beforeEach(() => {
  dir = tempDir('cfn-registry-');
  onCleanup(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await registry?.close();
    registry = undefined;
  });
});

const register = (pid: number): string =>
  `${JSON.stringify({ type: 'register', v: 2, pid, ppid: 1, argv: ['node', 'x.js'], heapSizeLimit: 1e9, nodeVersion: 'v20' })}\n`;

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

/** A fake probe in a process of its own (a plain net client): its stdout says "connected N" / "closed N". */
function fakeProbe(socketPath: string, claimed: number | 'self', mode: string, wrap: string[] = [], script = path.join(FIXTURES, 'fake-probe.cjs')): { child: ChildProcess; out: () => string } {
  const [cmd, ...args] = [...wrap, process.execPath, script, socketPath, String(claimed), mode];
  const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: unprobedEnv() });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out };
}

const nextRegister = (r: Registry): Promise<ProcessRecord> => new Promise((resolve) => r.once('register', resolve));
const nextReject = (r: Registry): Promise<Rejection> => new Promise((resolve) => r.once('reject', resolve));
const poll = { timeout: 20_000, interval: 50 };

describe('Registry', () => {
  it('never listens again once closed: not after its close, nor when closed while listening again', async () => {
    let n = 0;
    await expectNoListenAfterClose(() => Registry.listen(path.join(dir, `registry-${n++}.sock`)));
  });

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

  it('drops malformed and oversized lines, registers valid ones, passes notices on, and reports the exit with its code', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxLineBytes: 1024 });
    const s = await connect(registry.socketPath);
    const registered = nextRegister(registry);
    s.write('not json\n');
    s.write(`${'x'.repeat(5000)}\n`);
    s.write('{"type":"register","v":2,"pid":-4}\n');
    s.write(`{"type":"register","v":1,"pid":${process.pid},"ppid":1,"argv":[],"heapSizeLimit":1,"nodeVersion":"v"}\n`);
    s.write(register(process.pid));
    const rec = await registered;
    expect(rec).toMatchObject({ pid: process.pid, ppid: 1, argv: ['node', 'x.js'], heapSizeLimit: 1e9 });
    expect(registry.list().map((r) => r.pid)).toEqual([process.pid]);
    const notice = new Promise<[number, Record<string, unknown>]>((resolve) => registry!.once('notice', (pid, msg) => resolve([pid, msg])));
    s.write('{"type":"post-gc","used":1234,"at":5}\n');
    expect(await notice).toEqual([process.pid, { type: 'post-gc', used: 1234, at: 5 }]);
    const exit = new Promise<[number, { code?: number }]>((resolve) => registry!.once('exit', (pid, info) => resolve([pid, info])));
    s.end('{"type":"exit","code":3}\n');
    expect(await exit).toEqual([process.pid, { code: 3 }]);
    expect(registry.get(process.pid)).toBeUndefined();
  });

  it('answers requests, times them out, bounds them, caps their total time, and rejects the pending ones when the process goes', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxPending: 2 });
    const s = await connect(registry.socketPath);
    s.setEncoding('utf8');
    const registered = nextRegister(registry);
    s.write(register(process.pid));
    await registered;
    let received = '';
    s.on('data', (d: string) => (received += d));
    const lastId = (): number => (JSON.parse(received.trim().split('\n').at(-1)!) as { id: number }).id;

    const ok = registry.request(process.pid, { type: 'heap-stats' }, { timeoutMs: 2000 });
    await vi.waitFor(() => expect(received).toContain('"id"'), poll);
    s.write(`{"type":"reply","id":${lastId()},"result":{"usedHeapSize":1}}\n`);
    await expect(ok).resolves.toEqual({ usedHeapSize: 1 });

    const late = registry.request(process.pid, { type: 'heap-stats' }, { timeoutMs: 50 });
    await expect(late).rejects.toBeInstanceOf(TimeoutError);

    // Progress re-arms the silence timeout, never the total cap.
    const before = received.length;
    const streamed = registry.request(process.pid, { type: 'capture' }, { timeoutMs: 300, totalMs: 1500 });
    await vi.waitFor(() => expect(received.length).toBeGreaterThan(before), poll);
    const id = lastId();
    let progress = 0;
    const feeder = setInterval(() => s.write(`{"type":"progress","id":${id},"done":${++progress},"total":0}\n`), 50);
    const err = await streamed.catch((e: unknown) => e);
    clearInterval(feeder);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/total time cap/);
    expect(progress).toBeGreaterThan(6);

    const a = registry.request(process.pid, { type: 'heap-stats' }, { timeoutMs: 5000 });
    const b = registry.request(process.pid, { type: 'heap-stats' }, { timeoutMs: 5000 });
    // Over the limit: a line a person can act on, and "not now" (409, exit 4) rather than a failure.
    const over = await registry.request(process.pid, { type: 'heap-stats' }, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(errorStatus(over)).toEqual({
      status: 409,
      message: `pid ${process.pid}: not answering (2 requests pending); try again later, or capture it through its inspector port: cfn-supervise capture --pid ${process.pid} --state-dir <a folder no supervisor runs in>`,
    });
    expect(new HttpError(409, '').exitCode).toBe(EXIT.refused);
    s.destroy();
    await expect(a).rejects.toBeInstanceOf(ProbeError);
    await expect(b).rejects.toThrow(/process exited/);
    expect(registry.send(process.pid, { type: 'memory-pressure', level: 'x' })).toBe(false);
  });

  it('closes without waiting for a request in flight', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'));
    const s = await connect(registry.socketPath);
    const registered = nextRegister(registry);
    s.write(register(process.pid));
    await registered;
    const inFlight = registry.request(process.pid, { type: 'capture' }, { timeoutMs: 600_000 }).catch((e: unknown) => e);
    await registry.close();
    registry = undefined;
    expect(String(await inFlight)).toMatch(/the supervisor is stopping/);
  });

  it('refuses connections past its maximum', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxConnections: 1 });
    const first = await connect(registry.socketPath);
    const registered = nextRegister(registry);
    first.write(register(process.pid));
    await registered;
    const fake = fakeProbe(registry.socketPath, 'self', 'register');
    await vi.waitFor(() => expect(fake.out()).toContain('closed 1'), poll);
    expect(registry.list()).toHaveLength(1);
  });
});

describe('Registry: a peer is who SO_PEERCRED says it is', () => {
  it('turns away a peer registering as pid 1, or as another live process, and keeps no slot for it', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxConnections: 2 });
    const registrations: ProcessRecord[] = [];
    registry.on('register', (r) => registrations.push(r));
    for (const claimed of [1, process.pid]) {
      const rejected = nextReject(registry);
      const fake = fakeProbe(registry.socketPath, claimed, 'register');
      expect(await rejected).toEqual({ reason: `claims pid ${claimed}`, peerPid: fake.child.pid, claimedPid: claimed });
      await vi.waitFor(() => expect(fake.out()).toContain('closed 1'), poll);
    }
    // Rejected peers hold nothing: an honest one still gets in.
    const honest = fakeProbe(registry.socketPath, 'self', 'register');
    await vi.waitFor(() => expect(registry!.get(honest.child.pid!)).toBeDefined(), poll);
    expect(registrations.map((r) => r.pid)).toEqual([honest.child.pid]);
  });

  it('never replaces a live registration: a second connection registering the same isolate is turned away', async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'));
    const fake = fakeProbe(registry.socketPath, 'self', 'twice');
    const rec = await nextRegister(registry);
    expect(rec.pid).toBe(fake.child.pid);
    const rejected = nextReject(registry);
    registry.send(rec.pid, { type: 'memory-pressure', level: 'again' });
    expect(await rejected).toEqual({ reason: `${rec.pid} is already registered`, peerPid: fake.child.pid, claimedPid: rec.pid });
    await vi.waitFor(() => expect(fake.out()).toContain('closed 2'), poll);
    expect(fake.out()).not.toContain('closed 1');
    expect(registry.get(rec.pid)).toBe(rec);
    await expect(registry.request(rec.pid, { type: 'heap-stats' }, { timeoutMs: 5000 })).resolves.toMatchObject({ usedHeapSize: 1e6 });
  });

  it("takes each worker thread as an isolate of its own, addressed by (pid, thread), up to maxPerProcess connections per pid", async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'), { maxPerProcess: 3 });
    const fake = fakeProbe(registry.socketPath, 'self', 'threads');
    const main = await nextRegister(registry);
    const workers: ProcessRecord[] = [];
    registry.on('register', (r) => workers.push(r));
    const rejected = nextReject(registry);
    registry.send(main.pid, { type: 'memory-pressure', level: 'again' });
    expect(await rejected).toEqual({ reason: '3 connections from this pid are already open', peerPid: fake.child.pid, peerUid: process.getuid!() });
    await vi.waitFor(() => expect(workers).toHaveLength(2), poll);
    const [a, b] = workers.map((w) => w.thread!).sort();
    expect([1, 2, 3]).toEqual(expect.arrayContaining([a, b]));
    expect(registry.get(main.pid)).toBe(main);
    expect(registry.get(main.pid, a)).toMatchObject({ pid: main.pid, thread: a });
    expect(registry.list()).toHaveLength(3);
    await expect(registry.request(main.pid, { type: 'heap-stats' }, { timeoutMs: 5000 }, b)).resolves.toMatchObject({ usedHeapSize: 1e6 });
    // The process's end ends every isolate of it, each reported with its thread.
    const ends: unknown[] = [];
    registry.on('exit', (pid, info) => ends.push([pid, info.thread ?? 0]));
    fake.child.kill('SIGKILL');
    await vi.waitFor(() => expect(registry!.list()).toEqual([]), poll);
    expect(ends).toEqual(expect.arrayContaining([[main.pid, 0], [main.pid, a], [main.pid, b]]));
  });

  it('turns away processes outside the supervised tree', async () => {
    const members = new Set<number>();
    registry = await Registry.listen(path.join(dir, 'r.sock'), { isMember: (pid) => members.has(pid) });
    const rejected = nextReject(registry);
    const outsider = fakeProbe(registry.socketPath, 'self', 'register');
    expect(await rejected).toMatchObject({ reason: 'not a process of the supervised tree', peerPid: outsider.child.pid });
    await vi.waitFor(() => expect(outsider.out()).toContain('closed 1'), poll);
    expect(registry.list()).toEqual([]);
  });

  it("turns away another user's process even when the socket lets it in", async () => {
    registry = await Registry.listen(path.join(dir, 'r.sock'));
    // Only a misconfigured socket lets another user connect at all; the credentials check still holds then.
    chmodSync(dir, 0o711);
    chmodSync(registry.socketPath, 0o666);
    const rejected = nextReject(registry);
    // The other user may not be able to read this checkout (a clone inside a 0700 folder): it runs a copy.
    const script = path.join(dir, 'fake-probe.cjs');
    copyFileSync(path.join(FIXTURES, 'fake-probe.cjs'), script);
    chmodSync(script, 0o644);
    const other = fakeProbe(registry.socketPath, 'self', 'register', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'], script);
    expect(await rejected).toMatchObject({ reason: 'another user', peerUid: 65534 });
    await vi.waitFor(() => expect(other.out()).toContain('closed 1'), poll);
    expect(registry.list()).toEqual([]);
  });
});
