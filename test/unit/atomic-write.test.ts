// A file replaced whole: 0600, the old one or the new one, and never a temporary file left behind.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPendingFile, tempPathFor, writeFileAtomic, writeFileAtomicSync } from '../../src/common/atomic-write.js';
import { tempDir } from '../helpers/cli.js';

const writers = [
  ['writeFileAtomic', (target: string, data: string) => writeFileAtomic(target, data)],
  ['writeFileAtomicSync', (target: string, data: string) => Promise.resolve().then(() => writeFileAtomicSync(target, data))],
] as const;

describe.each(writers)('%s', (_name, write) => {
  it('replaces the file whole, 0600, with nothing else left in the folder', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'ledger');
    writeFileSync(target, 'old', { mode: 0o644 });
    await write(target, 'new');
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['ledger']);
  });

  it('a rename that fails (a folder in the way) leaves the folder as it was and no temporary file', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'page.html', 'inside'), { recursive: true });
    await expect(write(path.join(dir, 'page.html'), 'x')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(['page.html']);
  });

  it('a folder that does not exist: the error says so, and nothing is created', async () => {
    const dir = tempDir();
    await expect(write(path.join(dir, 'gone', 'file'), 'x')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

it('two temporary names for one target differ, and are hidden beside it', () => {
  const a = tempPathFor('/s/captures/x.heapsnapshot');
  expect(a).toMatch(/^\/s\/captures\/\.x\.heapsnapshot\.[0-9a-f]{12}\.tmp$/);
  expect(tempPathFor('/s/captures/x.heapsnapshot')).not.toBe(a);
});

it('a pending file is empty and 0600 until committed, and gone when aborted', async () => {
  const dir = tempDir();
  const kept = await createPendingFile(path.join(dir, 'kept'));
  expect(statSync(kept.tmpPath).size).toBe(0);
  expect(statSync(kept.tmpPath).mode & 0o777).toBe(0o600);
  writeFileSync(kept.tmpPath, 'data');
  expect(await kept.commit()).toBe(path.join(dir, 'kept'));
  const dropped = await createPendingFile(path.join(dir, 'dropped'));
  writeFileSync(dropped.tmpPath, 'half');
  await dropped.abort();
  expect(readdirSync(dir)).toEqual(['kept']);
});

