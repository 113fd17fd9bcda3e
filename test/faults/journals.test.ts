// Journals on a real full disk (a small tmpfs) and journal files planted by someone else.
import { execFileSync } from 'node:child_process';
import { linkSync, lchownSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { openJournal, type JournalName } from '../../src/supervisor/journal/journal.js';
import { mountTmpfs } from './helpers.js';
import { onCleanup, tempDir } from '../helpers/cli.js';


const journalFiles = (dir: string) => ({
  logFile: path.join(dir, 'supervisor.log'),
  runsFile: path.join(dir, 'runs.jsonl'),
  alertsFile: path.join(dir, 'alerts.jsonl'),
  processesFile: path.join(dir, 'processes.jsonl'),
});

const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

/** Takes every free page of the filesystem holding `dir`. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(16 * 1024 * 1024, 1));
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  }
  return filler;
}

describe('journals on a full disk', () => {
  it('never leave a cut line, count what they drop, resume when space returns and write the held-back run record', (ctx) => {
    const dir = tempDir('cfn-enospc-');
    const refused = mountTmpfs(dir, '256k');
    if (refused) ctx.skip(refused);
    const files = journalFiles(dir);
    const drops: [JournalName, number][] = [];
    const j = openJournal({ ...files, onDrop: (journal, n) => drops.push([journal, n]) });
    onCleanup(() => j.close());
    j.alerts.info({ seq: -1, message: 'written before the disk filled' });
    const filler = fill(dir);

    // Lines go on into the last page's slack until one no longer fits: written in part, it must be cut back off.
    const sent = 200;
    for (let seq = 0; seq < sent; seq++) j.alerts.info({ seq, message: `alert ${seq} `.padEnd(100, '.') });
    j.runs.info({ run_id: 'run-1', exit: { reason: 'clean' } });

    const text = readFileSync(files.alertsFile, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const kept = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number });
    expect(kept.map((a) => a.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => i - 1));
    const lost = sent - (kept.length - 1);
    expect(lost).toBeGreaterThan(0);
    expect(j.dropped()).toEqual({ log: 0, runs: 0, processes: 0, alerts: lost });
    expect(drops[0]).toEqual(['alerts', 1]);
    expect(drops.at(-1)).toEqual(['alerts', lost]);
    // The run record is held, not lost.
    expect(readFileSync(files.runsFile, 'utf8')).toBe('');

    rmSync(filler);
    j.alerts.info({ seq: 'after', message: 'space is back' });
    expect((JSON.parse(linesOf(files.alertsFile).at(-1)!) as { seq: string }).seq).toBe('after');
    expect(linesOf(files.runsFile).map((l) => (JSON.parse(l) as { run_id: string }).run_id)).toEqual(['run-1']);
    expect(j.dropped().alerts).toBe(lost);
  });

  it('writes a held-back run record on flushPending alone', (ctx) => {
    const dir = tempDir('cfn-enospc-');
    const refused = mountTmpfs(dir, '256k');
    if (refused) ctx.skip(refused);
    const files = journalFiles(dir);
    const j = openJournal(files);
    onCleanup(() => j.close());
    const filler = fill(dir);
    j.runs.info({ run_id: 'run-2' });
    j.flushPending();
    expect(readFileSync(files.runsFile, 'utf8')).toBe('');
    rmSync(filler);
    j.flushPending();
    expect(linesOf(files.runsFile)).toHaveLength(1);
    expect(j.dropped().runs).toBe(0);
  });
});

describe('journal files', () => {
  function planted(setup: (file: string, dir: string) => void) {
    const dir = tempDir('cfn-planted-');
    const files = journalFiles(dir);
    setup(files.alertsFile, dir);
    return { dir, files, open: () => openJournal(files) };
  }

  it('are refused when planted as a symlink, and the target is left alone', () => {
    const { dir, open } = planted((file, d) => {
      writeFileSync(path.join(d, 'target'), 'precious\n', { mode: 0o644 });
      symlinkSync(path.join(d, 'target'), file);
    });
    expect(open).toThrow(UsageError);
    expect(open).toThrow(/alerts\.jsonl is a symbolic link/);
    expect(readFileSync(path.join(dir, 'target'), 'utf8')).toBe('precious\n');
    expect(statSync(path.join(dir, 'target')).mode & 0o777).toBe(0o644);
  });

  it('are refused when another name links to them, when others own them or when they are not 0600', () => {
    const linked = planted((file, d) => {
      writeFileSync(path.join(d, 'elsewhere'), '', { mode: 0o600 });
      linkSync(path.join(d, 'elsewhere'), file);
    });
    expect(linked.open).toThrow(/alerts\.jsonl has 2 hard links/);
    const foreign = planted((file) => {
      writeFileSync(file, '', { mode: 0o600 });
      lchownSync(file, 65534, 65534);
    });
    expect(foreign.open).toThrow(/alerts\.jsonl belongs to another user \(uid 65534\)/);
    const readable = planted((file) => writeFileSync(file, '', { mode: 0o644 }));
    expect(readable.open).toThrow(/alerts\.jsonl has mode 0644, not 0600/);
    const folder = planted((file) => mkdirSync(file));
    expect(folder.open).toThrow(/alerts\.jsonl is not a regular file/);
  });

  it('are refused, not waited on, when planted as a FIFO', () => {
    const fifo = planted((file) => execFileSync('mkfifo', ['-m', '600', file]));
    expect(fifo.open).toThrow(/alerts\.jsonl is not a regular file/);
  });
});

describe('supervisor.log', () => {
  it('carries each key once: the supervisor is supervisor_pid, a process it talks about is pid', async () => {
    const dir = tempDir('cfn-log-');
    const files = journalFiles(dir);
    const j = openJournal(files);
    j.log.info({ pid: 4242 }, 'node process registered');
    await j.close();
    const line = linesOf(files.logFile)[0]!;
    expect(line.match(/"pid":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ supervisor_pid: process.pid, pid: 4242, msg: 'node process registered' });
  });
});
