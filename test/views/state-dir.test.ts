// A state dir on a read-only file system: its own exit code and one line that says so, not the code of
// "another supervisor holds the state dir". The read-only mount is made in a user and mount namespace of the
// test's own, so nothing outside it sees the mount.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/common/errors.js';
import { BIN, fixture, tempDir } from '../helpers/cli.js';

const refused = spawnSync('unshare', ['-rm', 'true'], { timeout: 30_000 }).status !== 0;

/** Runs `cfn-supervise <args>` with `<mount>/state` on a read-only tmpfs mounted at `mount`. */
function onReadOnlyStateDir(mount: string, args: string[]) {
  const script = 'mount -t tmpfs tmpfs "$1" && mkdir -m 700 "$1/state" && mount -o remount,ro "$1" && shift && exec "$@"';
  return spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', mount, BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe.skipIf(refused)('a read-only state dir', () => {
  it('ends a supervisor start with its own code and one line, before the agent starts', () => {
    const mount = tempDir('cfn-ro-');
    const r = onReadOnlyStateDir(mount, ['--state-dir', `${mount}/state`, '--', process.execPath, fixture('control/agent.cjs')]);
    expect({ code: r.status, stderr: r.stderr }).toEqual({
      code: EXIT.stateDirUnwritable,
      stderr: `cfn-supervise: cannot write the state dir ${mount}/state: read-only file system; give a writable folder with --state-dir\n`,
    });
  });

  it('ends an offline cleanup the same way', () => {
    const mount = tempDir('cfn-ro-');
    const r = onReadOnlyStateDir(mount, ['cleanup', '--state-dir', `${mount}/state`]);
    expect({ code: r.status, stderr: r.stderr }).toEqual({
      code: EXIT.stateDirUnwritable,
      stderr: `cfn-supervise: cannot write the state dir ${mount}/state: read-only file system; give a writable folder with --state-dir\n`,
    });
  });
});
