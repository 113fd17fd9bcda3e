import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { CapturesFolder, captureName, enforceRetention } from '../../src/supervisor/journal/captures.js';
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

  it('gives the writer a hidden 0600 file, and the capture its name and the size the writer counted once complete', async () => {
    const out = path.join(dir, 'captures');
    const folder = new CapturesFolder(out);
    const name = captureName(7, 'manual', 'heapsnapshot');
    const capture = await folder.take(name, async (tmpPath) => {
      expect(readdirSync(out)).toEqual([path.basename(tmpPath)]);
      expect(path.basename(tmpPath)).toMatch(/^\..*\.tmp$/);
      expect(statSync(tmpPath).mode & 0o777).toBe(0o600);
      writeFileSync(tmpPath, '{"snapshot":{}}');
      return 15;
    });
    expect(capture).toEqual({ file: path.join(out, name), bytes: 15 });
    expect(readdirSync(out)).toEqual([name]);
    expect(statSync(capture.file).mode & 0o777).toBe(0o600);

    // A writer that fails leaves nothing, whatever it wrote.
    const failed = folder.take(captureName(8, 'manual', 'heapsnapshot'), async (tmpPath) => {
      writeFileSync(tmpPath, '{"snaps');
      throw new Error('the process exited');
    });
    await expect(failed).rejects.toThrow('the process exited');
    expect(readdirSync(out)).toEqual([name]);

    // Bytes, not characters.
    expect((await folder.write(captureName(9, 'manual', 'heapprofile'), '{"é":1}')).bytes).toBe(8);
  });

  it('applies retention after each capture, whichever way wrote it, and says what it removed', async () => {
    const said: object[] = [];
    const folder = new CapturesFolder(dir, { maxFiles: 2, maxBytes: 1 << 20 }, { info: (obj) => said.push(obj) });
    const names = [1, 2, 3].map((i) => captureName(i, 'r', 'heapprofile', new Date(Date.UTC(2025, 0, 1, 0, 0, i))));
    await folder.write(names[0]!, 'a');
    await folder.take(names[1]!, async (tmpPath) => (writeFileSync(tmpPath, 'b'), 1));
    expect(said).toEqual([]);
    await folder.write(names[2]!, 'c');
    expect(readdirSync(dir).sort()).toEqual([names[1], names[2]]);
    expect(said).toEqual([{ removed: [path.join(dir, names[0]!)] }]);
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
