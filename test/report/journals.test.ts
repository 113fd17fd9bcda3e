// Reading journals back from disk: every rotated file in order, gzip or plain, torn lines and torn files
// counted and skipped, never fatal.
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { emptyCounts, journalFiles, readJournal } from '../../src/report/journals.js';
import { TempDirs } from './command.js';

const temp = new TempDirs();
const stateDir = (files: Record<string, string | Buffer>) => temp.stateDir(files);

const line = (n: number) => `${JSON.stringify({ n })}\n`;

async function read(dir: string, name = 'runs.jsonl') {
  const seen: number[] = [];
  const counts = emptyCounts();
  await readJournal(dir, name, (raw) => ((raw as { n?: unknown }).n as number | undefined), (n) => seen.push(n), counts);
  return { seen, counts };
}

describe('journal files', () => {
  it('are the rotated files by time then index, then the live one, and nothing else', async () => {
    const dir = stateDir({
      'runs.jsonl': '',
      'runs.jsonl.20261130-101500.000': '',
      'runs.jsonl.20261129-230000.123-2': '',
      'runs.jsonl.20261129-230000.123': '',
      'runs.jsonl.20261201-000000.000.gz': '',
      'runs.jsonl.bak': '',
      'alerts.jsonl': '',
      'runs.jsonlx': '',
    });
    expect((await journalFiles(dir, 'runs.jsonl')).map((f) => path.basename(f))).toEqual([
      'runs.jsonl.20261129-230000.123',
      'runs.jsonl.20261129-230000.123-2',
      'runs.jsonl.20261130-101500.000',
      'runs.jsonl.20261201-000000.000.gz',
      'runs.jsonl',
    ]);
  });

  it('are none in a state dir without the journal, or without the folder', async () => {
    expect(await journalFiles(stateDir({}), 'processes.jsonl')).toEqual([]);
    expect(await journalFiles('/nonexistent/cfn-state', 'runs.jsonl')).toEqual([]);
  });
});

describe('reading a journal', () => {
  it('streams every line of every file in order, gzip told by its bytes whatever its name', async () => {
    const dir = stateDir({
      'runs.jsonl.20261129-230000.123': line(1) + line(2),
      'runs.jsonl.20261130-000000.000': gzipSync(line(3) + line(4)),
      'runs.jsonl.20261130-120000.000.gz': gzipSync(line(5)),
      'runs.jsonl': line(6),
    });
    const { seen, counts } = await read(dir);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(counts).toEqual({ files: 4, lines: 6, skipped: 0, unreadable: [] });
  });

  it('skips and counts torn and invalid lines, ignores blank ones, and reads a last line without a newline', async () => {
    const dir = stateDir({ 'runs.jsonl': `${line(1)}{"n": 2, "tor\n\n${line(3)}not json\n{"other": 1}\n[]\n{"n":4}` });
    const { seen, counts } = await read(dir);
    expect(seen).toEqual([1, 3, 4]);
    expect(counts).toEqual({ files: 1, lines: 7, skipped: 4, unreadable: [] });
  });

  it('keeps what a broken-off gzip held before the break and goes on with the next file', async () => {
    const whole = gzipSync(Array.from({ length: 2000 }, (_, i) => line(i)).join(''));
    const dir = stateDir({ 'runs.jsonl.20261130-000000.000': whole.subarray(0, Math.floor(whole.length / 2)), 'runs.jsonl': line(9999) });
    const { seen, counts } = await read(dir);
    expect(seen.length).toBeGreaterThan(100);
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
    expect(seen.at(-1)).toBe(9999);
    expect(counts.unreadable).toEqual(['runs.jsonl.20261130-000000.000: compressed data broken off or corrupt']);
  });

  it('reads multi-byte characters split across chunks intact', async () => {
    const role = 'node:résumé-ü.js'.repeat(5000);
    const dir = stateDir({ 'processes.jsonl': `${JSON.stringify({ n: 1, role })}\n${JSON.stringify({ n: 2, role })}\n` });
    const roles: string[] = [];
    await readJournal(dir, 'processes.jsonl', (raw) => (raw as { role: string }).role, (r) => roles.push(r), emptyCounts());
    expect(roles).toEqual([role, role]);
  });
});
