import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  captureName,
  createPendingCapture,
  enforceRetention,
  writeCaptureAtomically,
} from '../../src/supervisor/journal/captures.js';
import { ensurePrivateDir } from '../../src/common/statedir.js';
import { tempDir } from '../helpers/cli.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('cfn-captures-');
});

describe('captures', () => {
  it('names captures by time, pid and a shell-safe reason', () => {
    const at = new Date('2025-11-21T08:50:00.123Z');
    expect(captureName(42, 'Heap > 90% (alert)', 'heapprofile', at)).toBe('2025-11-21T08-50-00.123Z-42-heap-90-alert.heapprofile');
    expect(captureName(42, '///', 'heapsnapshot', at)).toBe('2025-11-21T08-50-00.123Z-42-capture.heapsnapshot');
  });

  it('makes new folders 0700 and leaves the mode of an existing one alone', () => {
    const existing = path.join(dir, 'existing');
    mkdirSync(existing, { mode: 0o755 });
    ensurePrivateDir(existing);
    ensurePrivateDir(path.join(dir, 'a/b'));
    expect(statSync(existing).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(dir, 'a/b')).mode & 0o777).toBe(0o700);
  });

  it('writes 0600 files that carry their final name only once complete', async () => {
    const out = path.join(dir, 'captures');
    const name = captureName(7, 'manual', 'heapprofile');
    const pending = await createPendingCapture(out, name);
    expect(readdirSync(out)).toEqual([path.basename(pending.tmpPath)]);
    expect(path.basename(pending.tmpPath)).not.toMatch(/\.heapprofile$/);
    expect(statSync(pending.tmpPath).mode & 0o777).toBe(0o600);
    await pending.abort();
    expect(readdirSync(out)).toEqual([]);

    const file = await writeCaptureAtomically(out, name, '{"head":{}}');
    expect(readdirSync(out)).toEqual([name]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps the newest captures within count and bytes, and sweeps stale temporaries', async () => {
    const names = [1, 2, 3, 4].map((i) => captureName(i, 'r', 'heapprofile', new Date(Date.UTC(2025, 0, 1, 0, 0, i))));
    for (const n of names) writeFileSync(path.join(dir, n), 'x'.repeat(100));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a capture');
    const stale = path.join(dir, '.old.heapsnapshot.abc.tmp');
    writeFileSync(stale, '');
    utimesSync(stale, new Date(0), new Date(0));
    writeFileSync(path.join(dir, '.live.heapsnapshot.def.tmp'), '');

    await enforceRetention(dir, { maxFiles: 3, maxBytes: 250 });
    expect(readdirSync(dir).sort()).toEqual(['.live.heapsnapshot.def.tmp', names[2], names[3], 'notes.txt'].sort());
    // The newest capture stays even when it alone is over the byte budget.
    await enforceRetention(dir, { maxFiles: 3, maxBytes: 10 });
    expect(readdirSync(dir).filter((n) => n.endsWith('.heapprofile'))).toEqual([names[3]]);
  });
});
