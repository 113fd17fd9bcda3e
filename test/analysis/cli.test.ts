// `cfn-supervise analyze` as a person or a script sees it: output, exit codes, one-line errors.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Captures, capture, heapProf, removeTempDirs, tempDir } from './captures.js';

const command = new URL('../../dist/cli/analyze.js', import.meta.url).href;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs analyzeCommand in its own process, which must also exit on its own once done. */
function analyze(files: string[], opts: { json?: boolean; top?: number } = {}): Promise<Run> {
  const script = `const { analyzeCommand } = await import(${JSON.stringify(command)}); process.exitCode = await analyzeCommand(${JSON.stringify(files)}, ${JSON.stringify(opts)});`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

function expectOneLineError(r: Run, code: number, message: string | RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^cfn-supervise analyze: /);
  expect(r.stderr.trimEnd()).toMatch(message);
}

let c: Captures;
let dir: string;
let idle: string;
beforeAll(async () => {
  c = await capture('map', 20_000);
  dir = tempDir();
  // A sampling interval far above what `node -e 0` allocates: a real profile with no sample in it.
  idle = await heapProf(['-e', '0'], { intervalBytes: 1024 ** 3 });
}, 60_000);

afterAll(() => removeTempDirs());

describe('analyze reports', () => {
  it('prints a readable heap profile report', async () => {
    const r = await analyze([c.after.profile]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Top allocation sites');
    expect(r.stdout).toMatch(/^\s+1\s+[\d.]+ (KiB|MiB)\s+[\d.]+%\s+leakSessions\s+file:\S*leaky\.mjs:\d+:\d+(\s+[\w, ]+)?$/m);
    expect(r.stdout).toContain('By function');
    expect(r.stdout).toContain('By file');
  });

  it('prints a readable heap snapshot report, without a progress bar when stderr is not a terminal', async () => {
    const r = await analyze([c.after.snapshot]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^\s+20,000\s+[\d.]+ (KiB|MiB)\s+[\d.]+%\s+UserSession$/m);
    expect(r.stdout).toMatch(/\.sessions → Map\{table\} → /);
  });

  it('prints a diff given two files of one kind', async () => {
    const r = await analyze([c.before.snapshot, c.after.snapshot]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Constructors that grew most/);
    expect(r.stdout).toMatch(/^\s+1\s+\+[\d.]+ (KiB|MiB)\s+\+18,000\s+20,000\s+UserSession$/m);
  });

  it('explains an empty profile in one line instead of empty tables', async () => {
    const r = await analyze([idle]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/^Heap profile \S+\.heapprofile: no live sampled allocations: .*capture --snapshot.*--seconds\)\n$/);
    expect(r.stdout).not.toContain('(none)');
  });

  it('explains an empty profile in JSON too', async () => {
    const r = await analyze([idle], { json: true });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { sampleCount: number; sites: unknown[]; note: string };
    expect(summary).toMatchObject({ sampleCount: 0, sites: [], note: expect.stringMatching(/^no live sampled allocations: /) });
  });

  it('prints JSON for machines, cut to --top', async () => {
    const r = await analyze([c.before.profile, c.after.profile], { json: true, top: 2 });
    expect(r.code).toBe(0);
    const diff = JSON.parse(r.stdout) as { kind: string; grew: Array<{ functionName: string }> };
    expect(diff.kind).toBe('heapprofile-diff');
    expect(diff.grew).toHaveLength(2);
    expect(diff.grew[0]?.functionName).toBe('leakSessions');
  });
});

describe('analyze errors', () => {
  it.each([
    ['no file', () => [], /expected one file, or two to compare/],
    ['three files', () => [c.after.profile, c.after.profile, c.after.profile], /expected one file, or two/],
    ['two kinds', () => [c.after.profile, c.after.snapshot], /cannot compare a heap profile with a heap snapshot/],
  ])('exits 2 on a usage error: %s', async (_, files, message) => {
    expectOneLineError(await analyze(files()), 2, message);
  });

  it('exits 2 on a bad --top', async () => {
    expectOneLineError(await analyze([c.after.profile], { top: 0 }), 2, /--top must be a whole number/);
  });

  it.each([
    ['an empty file', 'empty.heapsnapshot', () => '', /empty\.heapsnapshot: empty file$/],
    ['a truncated snapshot', 'cut.heapsnapshot', () => readFileSync(c.after.snapshot).subarray(0, 300_000), /cut\.heapsnapshot: truncated heap snapshot/],
    ['a truncated profile', 'cut.heapprofile', () => readFileSync(c.after.profile).subarray(0, 5_000), /cut\.heapprofile: truncated or malformed heap profile/],
    ['a CPU profile', 'cpu.cpuprofile', () => '{"nodes":[],"startTime":0,"endTime":1}', /not a heap profile \(\.heapprofile\) or heap snapshot/],
    ['text', 'notes.txt', () => 'hello\n', /not a heap profile/],
  ])('exits 1 with one line for %s', async (_, name, content, message) => {
    const file = path.join(dir, name);
    writeFileSync(file, content());
    expectOneLineError(await analyze([file]), 1, message);
  });

  it('exits 1 for a missing file', async () => {
    expectOneLineError(await analyze([path.join(dir, 'missing.heapprofile')]), 1, /missing\.heapprofile: no such file$/);
  });
});
