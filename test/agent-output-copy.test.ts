// Issue 27, item 1: the copy of the agent's piped output to its destination. Byte for byte and in order into a
// pipe (tee), a file (write) and a socket (send); the destination's backpressure reaches the agent while the
// supervisor holds nothing and stays responsive. Its pace is benchmarks/output.mjs's to measure, not a test's.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { BIN, fixture, killQuietly, readJsonl, runCli, spawnTracked, startCli, tempDir, waitFor } from './helpers/cli.js';

const FAST = ['--backoff', '10', '--min-free', '0', '--no-probe', '--restart', 'never'];
const STREAM = fixture('agent-log/stream.cjs');
const sh = (script: string, cwd: string) => spawnSync('sh', ['-c', script], { cwd, encoding: 'buffer', timeout: 120_000, maxBuffer: 64 << 20 });
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const supervised = `${BIN} ${FAST.join(' ')} --`;

it('copies a large binary payload unchanged into a pipe, a file and a socket', async () => {
  const cwd = tempDir('cfn-copy-binary-');
  // 40 MiB: past the log's burst, so the log both takes and skips while the copy goes on.
  const agent = `node ${STREAM} binary 40`;
  expect(sh(`${agent} > bare.out`, cwd).status).toBe(0);
  const bare = sha(readFileSync(path.join(cwd, 'bare.out')));
  expect(sh(`${supervised} ${agent} | cat > piped.out`, cwd).status).toBe(0);
  expect(sha(readFileSync(path.join(cwd, 'piped.out')))).toBe(bare);
  expect(sh(`${supervised} ${agent} > file.out`, cwd).status).toBe(0);
  expect(sha(readFileSync(path.join(cwd, 'file.out')))).toBe(bare);
  // Node gives a child's stdio a socket pair.
  const r = await runCli([...FAST, '--', 'node', STREAM, 'binary', '40'], { cwd });
  expect(r.code).toBe(0);
  expect(sha(r.stdout)).toBe(bare);
  const log = readJsonl(path.join(cwd, '.cfn-supervise/logs/agent.log'));
  expect(log.some((x) => typeof x.skipped === 'number')).toBe(true);
});

it('keeps the order of many interleaved stdout and stderr writes into one pipe (2>&1 |)', () => {
  const cwd = tempDir('cfn-copy-order-');
  const agent = `node ${STREAM} interleave 20000`;
  expect(sh(`${agent} 2>&1 | cat > bare.out`, cwd).status).toBe(0);
  expect(sh(`${supervised} ${agent} 2>&1 | cat > sup.out`, cwd).status).toBe(0);
  expect(readFileSync(path.join(cwd, 'sup.out')).equals(readFileSync(path.join(cwd, 'bare.out')))).toBe(true);
  const lines = readJsonl(path.join(cwd, '.cfn-supervise/logs/agent.log')).map((x) => `${x.line as string}\n`);
  expect(lines.join('')).toBe(readFileSync(path.join(cwd, 'bare.out'), 'utf8'));
});

it('lets a stalled reader stop the agent, holding nothing, and loses nothing when it reads again', async () => {
  const cwd = tempDir('cfn-copy-stall-');
  const progress = path.join(cwd, 'progress');
  const mib = 48;
  // The reader says who it is, then becomes `cat`: stopped and continued by the test.
  const run = spawnTracked('sh', ['-c', `${supervised} node ${STREAM} flood ${mib} ${progress} | sh -c 'echo $$ > reader.pid; exec cat > out'`], { cwd, stdio: 'ignore' });
  const exited = new Promise((resolve) => run.once('close', resolve));
  const reader = Number(await waitFor(() => existsSync(path.join(cwd, 'reader.pid')) && readFileSync(path.join(cwd, 'reader.pid'), 'utf8').trim(), 20_000, 'the reader'));
  const written = () => (existsSync(progress) ? Number(readFileSync(progress, 'utf8')) || 0 : 0);
  try {
    process.kill(reader, 'SIGSTOP');
    const atStop = written();
    // The agent stops once the pipes between it and the reader are full; it is stable for a second.
    let last = -1;
    let since = Date.now();
    const stalled = await waitFor(
      () => {
        const now = written();
        if (now !== last) [last, since] = [now, Date.now()];
        return Date.now() - since > 1000 && now;
      },
      30_000,
      'the agent to stop writing',
    );
    expect(stalled).toBeLessThan(mib * 1024 * 1024);
    // Our pipe (1 MiB), the reader's (64 KiB) and what `cat` had read before it stopped: no more.
    expect(stalled - atStop).toBeLessThan(3 * 1024 * 1024);
    // The supervisor's loop goes on meanwhile: it answers.
    const status = await runCli(['status', '--json'], { cwd });
    expect(status.code).toBe(0);
    process.kill(reader, 'SIGCONT');
    await exited;
    const out = readFileSync(path.join(cwd, 'out'));
    expect(statSync(path.join(cwd, 'out')).size).toBe(mib * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 'flood\n');
    expect(out.equals(Buffer.concat(Array.from({ length: mib * 16 }, () => chunk)))).toBe(true);
  } finally {
    killQuietly(reader, 'SIGCONT');
  }
});

it('ends within its settle time after its agent, while its reader is stopped and the pipes are full', async () => {
  const cwd = tempDir('cfn-copy-exit-');
  const progress = path.join(cwd, 'progress');
  // The reader stops itself before it reads anything; 1.5 MiB fit in our pipe and the reader's (1 MiB each):
  // the agent writes them all and exits, the copy is left waiting on a destination that takes nothing.
  const reader = `sh -c 'echo $$ > reader.pid; kill -STOP $$; exec cat > out'`;
  spawnTracked('sh', ['-c', `{ ${supervised} node ${STREAM} flood 1.5 ${progress} & echo $! > sup.pid; wait; } | ${reader}`], { cwd, stdio: 'ignore' });
  const pidIn = (file: string) => waitFor(() => existsSync(path.join(cwd, file)) && Number(readFileSync(path.join(cwd, file), 'utf8')), 20_000, file);
  const [supervisor, readerPid] = [await pidIn('sup.pid'), await pidIn('reader.pid')];
  try {
    await waitFor(() => existsSync(progress) && Number(readFileSync(progress, 'utf8')) === 1.5 * 1024 * 1024, 30_000, 'the agent to write everything');
    const written = Date.now();
    // The output's settle time (2 s) and the last wait on libuv's pool (0.1 s), which process.exit waits for.
    await waitFor(() => !existsSync(`/proc/${supervisor}`) || readFileSync(`/proc/${supervisor}/stat`, 'latin1').includes(') Z'), 30_000, 'the supervisor to end');
    expect(Date.now() - written).toBeLessThan(10_000);
  } finally {
    killQuietly(readerPid, 'SIGCONT');
  }
});

it('copies two piped streams at the memory cost of none: no thread or isolate of its own', async () => {
  // Each stream copied on a worker thread of its own cost 10-18 MB (a whole V8 isolate): a supervisor with its
  // two piped streams measured 16 MB above the same supervisor whose agent writes to its fds directly.
  const idle = ['node', '-e', "console.log('up'); setInterval(() => {}, 1000)"];
  const start = (extra: string[]) => {
    const cwd = tempDir('cfn-copy-rss-');
    // Node hands a child's stdout and stderr two socket pairs: two streams, each copied.
    const sup = startCli([...FAST, ...extra, '--', ...idle], { cwd });
    return { cwd, sup };
  };
  const piped = start([]);
  const direct = start(['--no-agent-log']);
  for (const { cwd, sup } of [piped, direct]) {
    await waitFor(() => sup.stdout().includes('up'), 30_000, 'the agent to start');
    // Started in full (the rest of the supervisor loads while the agent starts): the control socket answers.
    await waitFor(async () => (await runCli(['status', '--json'], { cwd })).code === 0, 30_000, 'the supervisor to answer');
  }
  const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  const threads = (pid: number) => Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  // The highest of a few readings each, the two side by side: a busy machine shifts both.
  const samples: [number, number][] = [];
  await waitFor(() => samples.push([rssMb(piped.sup.child.pid!), rssMb(direct.sup.child.pid!)]) >= 5, 20_000, 'five readings');
  const most = (i: 0 | 1) => Math.max(...samples.map((s) => s[i]));
  expect(most(0) - most(1)).toBeLessThan(6);
  expect(threads(piped.sup.child.pid!)).toBe(threads(direct.sup.child.pid!));
  expect(piped.sup.stdout().toString()).toBe('up\n');
});
