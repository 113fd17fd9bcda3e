// Issue 16, item 6: the programmatic API, used by a real Node program (the supervisor becomes that program's
// subreaper, so it runs in a process of its own, as a user's tool would).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { fixture, readJsonl, tempDir } from './helpers/cli.js';

it('starts, reports status and alerts, captures and stops an agent, and leaves the host its own signals', () => {
  const cwd = tempDir();
  const stateDir = path.join(cwd, 'state');
  const r = spawnSync(process.execPath, [fixture('api/embed.mjs'), stateDir], { cwd, encoding: 'utf8', timeout: 90_000 });
  expect(r.status, `${r.stderr}\n${r.stdout}\n${String(r.error)}`).toBe(0);
  // The agent shares the program's stdout: its own line is not one of the program's steps.
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  const steps = Object.fromEntries(lines.map((l) => JSON.parse(l) as { step: string }).map((s) => [s.step, s]));
  expect(steps.ready).toMatchObject({ phase: 'running', sigintListeners: 0 });
  expect(steps.alerted).toMatchObject({ level: 'warning' });
  expect(steps.captured).toMatchObject({ file: expect.stringMatching(/\.heapprofile$/) });
  expect(steps.stopped).toMatchObject({ outcome: { signal: 'SIGTERM' } });
  expect(steps['bad input']).toMatchObject({ error: 'supervise: the agent command is missing' });
  expect(steps['bad option']).toMatchObject({ error: "unknown option 'heapLimt'" });
  expect(readJsonl(path.join(stateDir, 'runs.jsonl'))).toEqual([expect.objectContaining({ exit: expect.objectContaining({ reason: 'stopped' }) })]);
});
