// A bug in the bin prints its whole stack, each frame of the bundles named by its .ts source through the bundle's
// source map (common/stack.ts); an expected failure stays one line. The bundles as built, real errors thrown in them.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { failureText } from '../../src/cli/output.js';
import { UsageError } from '../../src/common/errors.js';
import { readableStack } from '../../src/common/stack.js';
import { CLI, ROOT, isAlive, readJsonl, tempDir, track, waitFor } from '../helpers/cli.js';

const bundle = (name: string) => path.join(ROOT, 'dist/cli', name);

describe('a bug', () => {
  it("in a command: exit 1, a line that says so, then the stack naming the program's .ts files", () => {
    // The program's own entry given no command line at all: a TypeError deep in the parser.
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(bundle('program.cjs'))}).run(null)`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe("cfn-supervise: internal error: Cannot read properties of null (reading 'indexOf')");
    expect(lines[1]).toMatch(/^TypeError: /);
    expect(lines[2]).toMatch(/^ {4}at parseCommandLine \(.*\/src\/cli\/args\.ts:\d+:\d+\)$/);
    expect(r.stderr).toMatch(/\/src\/cli\/program\.ts:\d+:\d+\)/);
    expect(r.stderr).not.toMatch(/program\.cjs/);
  });

  it("in the supervisor's bundle: the stack its fault path prints and logs names the supervisor's .ts files", () => {
    const { nestedStateDir } = createRequire(import.meta.url)(bundle('supervise.cjs')) as { nestedStateDir: (...args: unknown[]) => unknown };
    let thrown: unknown;
    try {
      nestedStateDir(undefined, {}, 1);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).stack).toMatch(/supervise\.cjs:\d+:\d+/);
    const stack = readableStack(thrown);
    expect(stack).toMatch(/^ {4}at nestedStateDir \(.*\/src\/cli\/supervise\.ts:\d+:\d+\)$/m);
    expect(stack).not.toMatch(/supervise\.cjs/);
  });

  it("in a running supervisor: exit 70, the agent's tree ended, the stack printed and logged with the .ts names", async () => {
    const cwd = tempDir();
    const go = path.join(cwd, 'go');
    // A preload of the supervisor's node alone that, on a sign from the test, calls into the supervisor's bundle
    // wrongly from a timer: an exception nobody catches, thrown in the bundle's code.
    const preload = path.join(cwd, 'fault.cjs');
    writeFileSync(
      preload,
      `const t = setInterval(() => { if (!require('fs').existsSync(${JSON.stringify(go)})) return; clearInterval(t); require(${JSON.stringify(bundle('supervise.cjs'))}).nestedStateDir(undefined, {}, 1); }, 50);`,
    );
    const stateDir = path.join(cwd, 'state');
    const agent = "console.log('agent ' + process.pid); setInterval(() => {}, 1000)";
    const child = spawn(process.execPath, ['-r', preload, CLI, '--state-dir', stateDir, '--min-free', '0', '--no-probe', '--', 'node', '-e', agent], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const agentPid = Number(await waitFor(() => /^agent (\d+)$/m.exec(out)?.[1], 30_000, 'the agent'));
    writeFileSync(go, '');
    expect(await exited).toBe(70);
    await waitFor(() => !isAlive(agentPid), 20_000, "the agent's end");
    expect(err).toMatch(/^cfn-supervise: internal error, ending the agent's tree: Cannot destructure property 'config'/m);
    expect(err).toMatch(/^ {4}at (Object\.)?nestedStateDir \(.*\/src\/cli\/supervise\.ts:\d+:\d+\)$/m);
    const fatal = readJsonl(path.join(stateDir, 'supervisor.log')).find((l) => l.msg === 'supervisor failed; ending the tree');
    expect(String(fatal?.stack)).toMatch(/\/src\/cli\/supervise\.ts:\d+:\d+/);
  });

  it('keeps a frame as it is where no map is beside its file', () => {
    const err = new Error('plain');
    err.stack = 'Error: plain\n    at f (/nowhere/x.cjs:1:2)';
    expect(readableStack(err)).toBe(err.stack);
    expect(readableStack('a string')).toBe('a string');
  });
});

describe('what a failure prints', () => {
  const systemError = (() => {
    try {
      readFileSync(path.join(tempDir(), 'missing'));
    } catch (err) {
      return err;
    }
  })();
  it.each<[string, () => unknown, { line: RegExp; stack: boolean }]>([
    ['a usage error: its first line', () => new UsageError('bad flag\nmore'), { line: /^bad flag$/, stack: false }],
    ['a system error: its one line', () => systemError, { line: /^ENOENT: no such file or directory/, stack: false }],
    ['a TypeError: a bug, with its stack', () => new TypeError('x is not a function'), { line: /^internal error: x is not a function$/, stack: true }],
    ['a thrown string: its text', () => 'odd', { line: /^odd$/, stack: false }],
  ])('%s', (_, err, expected) => {
    const text = failureText(err());
    expect(text.line).toMatch(expected.line);
    expect(text.stack !== undefined).toBe(expected.stack);
  });
});
