// The Bun inspector link itself, against a real Bun: identified by its peer, GC and post-GC floors through it,
// and a link that breaks (closed under the process, or a peer breaking the framing) harms nothing.
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BunLinks } from '../../src/supervisor/bun-link/bun-link.js';
import { CapturesFolder } from '../../src/supervisor/journal/captures.js';
import { BunSessions } from '../../src/supervisor/bun-link/bun-sessions.js';
import type { GcPoint } from '../../src/supervisor/probe-link/probe-sessions.js';
import { fixture, spawnTracked, tempDir, waitFor } from '../helpers/cli.js';
import { BUN, runtime } from '../helpers/runtimes.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
let links: BunLinks | undefined;
afterEach(async () => {
  await links?.close();
  links = undefined;
});

function startBun(script: string, env: NodeJS.ProcessEnv) {
  const c = spawnTracked(runtime(BUN), [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => c.on('close', (code) => resolve({ code, out, err })));
  return { pid: c.pid!, exited, err: () => err };
}

it('links a Bun process by its peer pid and argv, collects it, and reports its heap after each full GC', async () => {
  const dir = tempDir();
  links = await BunLinks.listen(path.join(dir, 'bun.sock'));
  const floors: GcPoint[] = [];
  const sessions = new BunSessions({ links, callTimeoutMs: 5000, captures: new CapturesFolder(path.join(dir, 'captures')), log: quiet, heapLimit: () => 1 << 30, onGc: (_pid, p) => floors.push(p) });
  const go = path.join(dir, 'go');
  const bun = startBun(fixture('bun/unlinked-child.js'), { BUN_INSPECT_CONNECT_TO: links.address, GO_FILE: go });
  await waitFor(() => sessions.has(bun.pid), 20_000, 'the link');
  expect(links.get(bun.pid)).toMatchObject({ pid: bun.pid, ppid: process.pid, argv: [runtime(BUN), fixture('bun/unlinked-child.js')] });
  // Its child was started without the variable: no link of its own.
  expect(links.list().map((r) => r.pid)).toEqual([bun.pid]);
  const heap = await sessions.heap(bun.pid);
  expect(heap).toMatchObject({ used: expect.any(Number), total: expect.any(Number), limit: 1 << 30, runtime: 'bun' });
  const gc = await sessions.gc(bun.pid);
  expect(gc.afterBytes).toBeGreaterThan(0);
  await waitFor(() => floors.length > 0, 20_000, 'a post-GC floor');
  expect(floors[0]!.used).toBeGreaterThan(0);
  writeFileSync(go, '');
  expect(await bun.exited).toEqual({ code: 7, out: 'parent out\nchild out\n', err: 'child err\n' });
});

it("keeps no console argument alive: the link's console messages are cleared as the heap is read", async () => {
  const dir = tempDir();
  links = await BunLinks.listen(path.join(dir, 'bun.sock'));
  const sessions = new BunSessions({ links, callTimeoutMs: 5000, captures: new CapturesFolder(path.join(dir, 'captures')), log: quiet, heapLimit: () => 1 << 30 });
  const go = path.join(dir, 'go');
  const bun = startBun(fixture('bun/console.js'), { BUN_INSPECT_CONNECT_TO: links.address, GO_FILE: go });
  await waitFor(() => sessions.has(bun.pid), 20_000, 'the link');
  writeFileSync(go, '');
  await waitFor(() => bun.err() === 'logged\n', 20_000, 'the logging');
  await sessions.heap(bun.pid);
  const { afterBytes } = await sessions.gc(bun.pid);
  // 150 MB were logged; the inspector would keep the last 100 MB of them alive.
  expect(afterBytes).toBeLessThan(30 * 1024 * 1024);
});

it('a link closed under a running Bun process leaves its output and exit code as they were', async () => {
  const dir = tempDir();
  links = await BunLinks.listen(path.join(dir, 'bun.sock'));
  const gone: number[] = [];
  links.on('exit', (pid) => gone.push(pid));
  const go = path.join(dir, 'go');
  const bun = startBun(fixture('bun/unlinked-child.js'), { BUN_INSPECT_CONNECT_TO: links.address, GO_FILE: go });
  await waitFor(() => links!.get(bun.pid), 20_000, 'the link');
  links.drop(bun.pid);
  await waitFor(() => gone.includes(bun.pid), 10_000, 'the link to close');
  expect(links.get(bun.pid)).toBeUndefined();
  writeFileSync(go, '');
  expect(await bun.exited).toEqual({ code: 7, out: 'parent out\nchild out\n', err: 'child err\n' });
});

it('closes a link that breaks the framing, and turns away a peer outside the tree', async () => {
  const dir = tempDir();
  let member = true;
  links = await BunLinks.listen(path.join(dir, 'bun.sock'), { maxFrameBytes: 1024, isMember: () => member });
  const broken: string[] = [];
  const rejected: string[] = [];
  links.on('broken', (_pid, why) => broken.push(why));
  links.on('reject', (r) => rejected.push(r.reason));
  const peer = net.connect(links.socketPath);
  await waitFor(() => links!.get(process.pid), 10_000, 'the peer linked');
  peer.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  await waitFor(() => broken.length > 0, 10_000, 'the link broken');
  expect(broken[0]).toMatch(/a frame of 2147483647 bytes/);
  await waitFor(() => !links!.get(process.pid), 10_000, 'the link gone');
  peer.destroy();
  member = false;
  const stranger = net.connect(links.socketPath);
  stranger.on('error', () => undefined);
  await waitFor(() => rejected.length > 0, 10_000, 'the stranger turned away');
  expect(rejected).toEqual(['not a process of the supervised tree']);
  stranger.destroy();
});
