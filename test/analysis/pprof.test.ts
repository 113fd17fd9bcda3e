// `analyze <capture> --pprof out.pb.gz` as a person feeding a continuous profiler meets it: a real
// `node --heap-prof` profile goes in, and what comes out is read back by tools that are not ours: gzip, then
// protoc decoding it against pprof's Profile message (scripts/test-deps.sh installs protoc).
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import { type Captures, capture } from './captures.js';

const PROTO = path.join(ROOT, 'test/fixtures/analysis/pprof.proto');

type Message = Map<string, (string | Message)[]>;

/** protoc's text format: `name: value` and `name { … }` lines, every field a list. */
function parseText(text: string): Message {
  const root: Message = new Map();
  const open: Message[] = [root];
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const top = open[open.length - 1]!;
    const add = (key: string, value: string | Message) => top.set(key, [...(top.get(key) ?? []), value]);
    if (line === '}') open.pop();
    else if (line.endsWith(' {')) {
      const inner: Message = new Map();
      add(line.slice(0, -2), inner);
      open.push(inner);
    } else {
      const at = line.indexOf(': ');
      const raw = line.slice(at + 2);
      add(line.slice(0, at), raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    }
  }
  return root;
}

const messages = (m: Message, key: string) => (m.get(key) ?? []) as Message[];
const numbers = (m: Message, key: string) => ((m.get(key) ?? []) as string[]).map(Number);
const one = (m: Message, key: string) => numbers(m, key)[0] ?? 0;

/** Decodes a pprof file with gzip and protoc alone. */
function decode(file: string): Message {
  const raw = execFileSync('gzip', ['-dc', file]);
  const text = execFileSync('protoc', [`--proto_path=${path.dirname(PROTO)}`, '--decode=perftools.profiles.Profile', path.basename(PROTO)], { input: raw, encoding: 'utf8' });
  return parseText(text);
}

let c: Captures;
beforeAll(async () => {
  if (spawnSync('protoc', ['--version']).status !== 0) throw new Error('protoc is missing: run bash scripts/test-deps.sh');
  c = await capture('map', 20_000);
}, 60_000);

describe('analyze --pprof', () => {
  it('writes a gzipped pprof Profile that protoc decodes: in-use objects and bytes per stack, and every table', async () => {
    const dir = tempDir('cfn-pprof-');
    const out = path.join(dir, 'agent.pb.gz');
    const r = await runCli(['analyze', c.after.profile, '--pprof', out], { cwd: dir });
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^\S+agent\.pb\.gz: pprof profile \(inuse_objects, inuse_space\), stacks: \d+, frames: \d+\n$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const p = decode(out);
    const strings = (p.get('string_table') ?? []) as string[];
    expect(strings[0]).toBe('');
    const str = (i: number) => strings[i]!;
    expect(messages(p, 'sample_type').map((t) => `${str(one(t, 'type'))}/${str(one(t, 'unit'))}`)).toEqual(['inuse_objects/count', 'inuse_space/bytes']);
    expect(str(one(p, 'default_sample_type'))).toBe('inuse_space');

    const functions = new Map(messages(p, 'function').map((f) => [one(f, 'id'), { name: str(one(f, 'name')), file: str(one(f, 'filename')) }]));
    const locations = new Map(messages(p, 'location').map((l) => [one(l, 'id'), messages(l, 'line').map((line) => one(line, 'function_id'))]));
    const samples = messages(p, 'sample');
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(numbers(s, 'value')).toHaveLength(2);
      for (const id of numbers(s, 'location_id')) expect(locations.has(id)).toBe(true);
    }
    for (const fnIds of locations.values()) for (const id of fnIds) expect(functions.has(id)).toBe(true);

    // The same live bytes as our own report, and the leak on top, with its file, as pprof tools will show it.
    const summary = JSON.parse((await runCli(['analyze', c.after.profile, '--json'], { cwd: dir })).stdout.toString()) as { totalBytes: number };
    const bytes = samples.map((s) => numbers(s, 'value')[1]!);
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(summary.totalBytes);
    const largest = samples[bytes.indexOf(Math.max(...bytes))]!;
    const stack = numbers(largest, 'location_id').map((id) => functions.get(locations.get(id)![0]!)!);
    expect(stack.some((f) => f.name === 'leakSessions' && f.file.endsWith('leaky.mjs'))).toBe(true);
    expect(numbers(largest, 'value')[0]).toBeGreaterThan(0);
  });

  it('gives each stack leaf first, without V8\'s (root), its sampled objects and bytes, a location per frame', async () => {
    const dir = tempDir('cfn-pprof-');
    const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, scriptId: '1', url, lineNumber, columnNumber: 4 });
    const node = (id: number, callFrame: ReturnType<typeof frame>, selfSize: number, children: unknown[] = []) => ({ id, callFrame, selfSize, children });
    // main → handle → leak (two objects, 300 bytes) and main → handle → push (a builtin, one object of 64 bytes);
    // main → idle allocated nothing live and is no sample.
    const handle = frame('handle', 'file:///app/server.js', 9);
    const profile = {
      head: node(1, frame('(root)', '', -1), 0, [
        node(2, frame('main', 'file:///app/server.js', 0), 0, [
          node(3, handle, 0, [node(4, frame('leak', 'file:///app/cache.js', 19), 300), node(5, frame('push', '', -1), 64)]),
          node(6, frame('idle', 'file:///app/server.js', 30), 0),
        ]),
      ]),
      samples: [{ size: 150, nodeId: 4, ordinal: 1 }, { size: 150, nodeId: 4, ordinal: 2 }, { size: 64, nodeId: 5, ordinal: 3 }],
    };
    const input = path.join(dir, 'hand.heapprofile');
    writeFileSync(input, JSON.stringify(profile));
    const out = path.join(dir, 'hand.pb.gz');
    expect((await runCli(['analyze', input, '--pprof', out], { cwd: dir })).code).toBe(0);

    const p = decode(out);
    const strings = (p.get('string_table') ?? []) as string[];
    const functions = new Map(messages(p, 'function').map((f) => [one(f, 'id'), `${strings[one(f, 'name')]}@${strings[one(f, 'filename')]}:${one(f, 'start_line')}`]));
    const locations = new Map(messages(p, 'location').map((l) => [one(l, 'id'), { fn: functions.get(one(messages(l, 'line')[0]!, 'function_id')), line: one(messages(l, 'line')[0]!, 'line') }]));
    const samples = messages(p, 'sample').map((sample) => ({ stack: numbers(sample, 'location_id').map((id) => locations.get(id)!.fn), values: numbers(sample, 'value') }));
    expect(samples.sort((a, b) => b.values[1]! - a.values[1]!)).toEqual([
      { stack: ['leak@file:///app/cache.js:20', 'handle@file:///app/server.js:10', 'main@file:///app/server.js:1'], values: [2, 300] },
      { stack: ['push@:0', 'handle@file:///app/server.js:10', 'main@file:///app/server.js:1'], values: [1, 64] },
    ]);
    // One location per frame, whatever the number of stacks through it; the frame's line is its function's.
    expect(locations.size).toBe(5);
    expect([...locations.values()].find((l) => l.fn === 'leak@file:///app/cache.js:20')?.line).toBe(20);
  });

  it('refuses what it cannot convert or write in one line, with a non-zero exit', async () => {
    const dir = tempDir('cfn-pprof-');
    const notProfile = path.join(dir, 'notes.json');
    writeFileSync(notProfile, '{"hello": 1}');
    const cases: [string[], RegExp][] = [
      [[notProfile, '--pprof', path.join(dir, 'a.pb.gz')], /not a heap profile/],
      [[c.after.snapshot, '--pprof', path.join(dir, 'b.pb.gz')], /a heap snapshot; pprof holds allocation profiles: give a \.heapprofile/],
      [[c.after.profile, '--pprof', path.join(dir, 'missing', 'c.pb.gz')], /cannot write \S+c\.pb\.gz: no such file/],
      [[c.after.profile, '--pprof', dir], /cannot write \S+: is a directory/],
      [[c.before.profile, c.after.profile, '--pprof', path.join(dir, 'd.pb.gz')], /--pprof converts one heap profile/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['analyze', ...args], { cwd: dir });
      const err = r.stderr.toString();
      expect(r.code, err).not.toBe(0);
      expect(err.trimEnd().split('\n'), err).toHaveLength(1);
      expect(err).toMatch(message);
      expect(r.stdout.toString()).toBe('');
    }
  });
});
