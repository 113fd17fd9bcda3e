// A week of journals is streamed, not loaded: a report over journals several times larger than its heap limit
// completes, with every line counted.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FullReport } from '../../src/report/index.js';
import { TempDirs, report } from './command.js';
import { processRecord, runRecord } from './lines.js';

const temp = new TempDirs('file');

const HEAP_LIMIT_MB = 48;
const RUNS = 200;
const PER_RUN = 1000;

/** Writes `count` lines through a stream, so the test itself does not hold the file either. */
async function writeLines(file: string, count: number, line: (i: number) => unknown): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600 });
  for (let i = 0; i < count; i++) {
    if (!out.write(`${JSON.stringify(line(i))}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

describe('bounded memory', () => {
  it(`reports ${RUNS * PER_RUN} process lines (~${Math.round((RUNS * PER_RUN * 420) / 1048576)} MB) with a ${HEAP_LIMIT_MB} MB heap`, async () => {
    const state = temp.make();
    const start = Date.now() - 6 * 86_400_000;
    const step = (6 * 86_400_000) / RUNS;
    await writeLines(path.join(state, 'runs.jsonl'), RUNS, (i) => runRecord(start + (i + 1) * step, { id: `run-${i}`, restarts: i % 4, peak: 300 + (i % 7) }));
    await writeLines(path.join(state, 'processes.jsonl'), RUNS * PER_RUN, (i) => {
      const run = Math.floor(i / PER_RUN);
      return processRecord(`run-${run}`, start + run * step + (i % PER_RUN), i % 3 === 0 ? 'agent' : `node:worker-${i % 5}.js`, 50 + (i % 97), 20 + (i % 53));
    });
    const r = await report(state, { json: true }, [`--max-old-space-size=${HEAP_LIMIT_MB}`]);
    expect(r.code, r.stderr.slice(0, 2000)).toBe(0);
    const json = JSON.parse(r.stdout) as FullReport;
    expect(json.sources.journals['processes.jsonl']).toEqual({ files: 1, lines: RUNS * PER_RUN, skipped: 0, unreadable: [] });
    expect(json.roles.reduce((n, role) => n + (role.source === 'processes' ? role.count : 0), 0)).toBe(RUNS * PER_RUN);
    expect(json.roles.find((x) => x.role === 'agent')!.rssMb!.max).toBe(146);
  }, 180_000);
});
