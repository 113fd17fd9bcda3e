// When the ledger is rewritten: at once for a change of membership (the watchdog must know every process), soon
// for a change of the record (a new peak, a warning), and only now and then for the running figures alone.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { Ledger, type LedgerEntry } from '../../src/supervisor/orphans/ledger.js';
import { tempDir } from '../helpers/cli.js';

const record = (over: Partial<LedgerEntry['record']> = {}): LedgerEntry['record'] => ({
  run_id: 'r1', pid: 100, argv: ['node', 'agent.js'], start_mb: 40, peak_mb: 60, end_mb: 50, duration_seconds: 10, warnings: 0, restarts: 0, captures: [], reports: [], members: {}, ...over,
});
const entry = (members: number[], over: Partial<LedgerEntry['record']> = {}): LedgerEntry => ({ record: record(over), pgid: 100, members: members.map((pid) => ({ pid, startTime: pid * 10 })) });

it.each([
  ['members changed', entry([100, 101]), 1, true],
  ['only the running figures moved, 5 s later', entry([100], { duration_seconds: 15, end_mb: 55 }), 5000, false],
  ['only the running figures moved, 30 s later', entry([100], { duration_seconds: 40, end_mb: 55 }), 30_000, true],
  ['a new peak, 1 s later', entry([100], { peak_mb: 70 }), 1000, false],
  ['a new peak, 5 s later', entry([100], { peak_mb: 70 }), 5000, true],
  ['a warning, 5 s later', entry([100], { warnings: 1 }), 5000, true],
])('%s: written %s', (_what, next, after, written) => {
  const file = path.join(tempDir(), 'ledger');
  const ledger = new Ledger(file);
  expect(ledger.update(entry([100]), 1_000_000)).toBe(true);
  expect(ledger.update(next, 1_000_000 + after)).toBe(written);
  expect(readFileSync(file, 'utf8').includes(`run ${JSON.stringify(next.record)}`)).toBe(written);
});

it('tells its sink the targets on every update, and none once cleared', () => {
  const ledger = new Ledger(path.join(tempDir(), 'ledger'));
  const told: string[] = [];
  ledger.tell({ tick: (targets) => told.push(targets) });
  ledger.update(entry([100, 101]), 1_000_000);
  ledger.update(entry([100, 101]), 1_000_001);
  ledger.clear();
  expect(told).toEqual(['pgid 100\npid 100 1000\npid 101 1010', 'pgid 100\npid 100 1000\npid 101 1010', '']);
});
