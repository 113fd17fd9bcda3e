// The state dir and its files trust nothing the supervisor did not create: planted symlinks, shared or foreign
// folders, hard links, squatted runtime folders, and paths where mkdir -p never ends.
import { chmodSync, chownSync, closeSync, constants, existsSync, lchownSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { ensurePrivateDir, openPrivateFile, SOCKET_DIR_RECORD, socketPathFor } from '../../src/common/statedir.js';
import { startControl } from '../../src/supervisor/control/server.js';
import { Metrics } from '../../src/supervisor/control/metrics.js';
import { onCleanup, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { silentLog, testHandlers } from '../control/harness.js';


const mode = (p: string) => statSync(p).mode & 0o7777;
const NOBODY = 65534;

function refuses(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UsageError);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).not.toContain('\n');
}

describe('ensurePrivateDir', () => {
  it('refuses a symlinked folder and leaves its target alone', () => {
    const base = tempDir('cfn-fault-');
    const target = path.join(base, 'target');
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, path.join(base, 'state'));
    refuses(() => ensurePrivateDir(path.join(base, 'state')), /state is a symbolic link/);
    expect(mode(target)).toBe(0o755);
  });

  it('refuses, never chmods, a folder that others can write, sticky or not', () => {
    const base = tempDir('cfn-fault-');
    for (const [name, m] of [['open', 0o777], ['group', 0o770], ['sticky', 0o1777]] as const) {
      const dir = path.join(base, name);
      mkdirSync(dir);
      chmodSync(dir, m);
      refuses(() => ensurePrivateDir(dir), new RegExp(`${name} is writable by (its group|others) \\(mode 0${m.toString(8)}\\)`));
      expect(mode(dir)).toBe(m);
    }
  });

  it('refuses a folder of another user, and a symlink of another user on the way to it', () => {
    const base = tempDir('cfn-fault-');
    const foreign = path.join(base, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, NOBODY, NOBODY);
    refuses(() => ensurePrivateDir(foreign), /foreign belongs to another user \(uid 65534\)/);

    const real = path.join(base, 'real');
    mkdirSync(real, { mode: 0o755 });
    const planted = path.join(base, 'planted');
    symlinkSync(real, planted);
    lchownSync(planted, NOBODY, NOBODY);
    refuses(() => ensurePrivateDir(path.join(planted, 'state')), /planted is a symbolic link owned by another user/);
    expect(existsSync(path.join(real, 'state'))).toBe(false);
    // A link of our own on the way is our own choice of path.
    const mine = path.join(base, 'mine');
    symlinkSync(real, mine);
    expect(ensurePrivateDir(path.join(mine, 'state'))).toBe(path.join(mine, 'state'));
    expect(mode(path.join(real, 'state'))).toBe(0o700);
  });

  it('creates what is missing 0700 and chmods nothing it walks through', () => {
    const base = tempDir('cfn-fault-');
    const parent = path.join(base, 'parent');
    mkdirSync(parent, { mode: 0o755 });
    chmodSync(parent, 0o755);
    ensurePrivateDir(path.join(parent, 'a', 'b'));
    expect(mode(parent)).toBe(0o755);
    expect(mode(path.join(parent, 'a'))).toBe(0o700);
    expect(mode(path.join(parent, 'a', 'b'))).toBe(0o700);
    // Once there, it is not the folder that was just made: its mode is left as the user set it.
    chmodSync(path.join(parent, 'a', 'b'), 0o750);
    ensurePrivateDir(path.join(parent, 'a', 'b'));
    expect(mode(path.join(parent, 'a', 'b'))).toBe(0o750);
  });

  it('refuses a folder that another user could replace: a folder above it theirs, or shared and not sticky', () => {
    const base = tempDir('cfn-fault-');
    chmodSync(base, 0o755);
    const foreign = path.join(base, 'foreign');
    mkdirSync(foreign, { mode: 0o755 });
    chownSync(foreign, NOBODY, NOBODY);
    refuses(() => ensurePrivateDir(path.join(foreign, 'state')), /foreign belongs to another user \(uid 65534\), who could replace what is below it; choose another folder$/);
    expect(existsSync(path.join(foreign, 'state'))).toBe(false);
    for (const [name, m] of [['open', 0o777], ['group', 0o775]] as const) {
      const dir = path.join(base, name);
      mkdirSync(dir);
      chmodSync(dir, m);
      refuses(() => ensurePrivateDir(path.join(dir, 'a', 'state')), new RegExp(`${name} is writable by (its group|others) and not sticky \\(mode 0${m.toString(8)}\\)`));
      expect(existsSync(path.join(dir, 'a'))).toBe(false);
    }
    // Also above the folder a link of ours leads to.
    const deeper = path.join(base, 'open', 'deeper');
    mkdirSync(deeper, { mode: 0o755 });
    const mine = path.join(base, 'mine');
    symlinkSync(deeper, mine);
    refuses(() => ensurePrivateDir(path.join(mine, 'state')), /open is writable by others and not sticky/);
    // A sticky folder like /tmp: only the owner of what is below it can move that.
    const sticky = path.join(base, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect(ensurePrivateDir(path.join(sticky, 'state'))).toBe(path.join(sticky, 'state'));
  });

  it("refuses to start in a project folder of another user, who could swap the state dir and plant a ledger: one line, exit 2", async () => {
    const base = tempDir('cfn-fault-');
    chmodSync(base, 0o755);
    const project = path.join(base, 'project');
    mkdirSync(project, { mode: 0o755 });
    chownSync(project, NOBODY, NOBODY);
    const cli = startCli(['--min-free', '0', '--', 'true'], { cwd: project });
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr().toString()).toBe(`cfn-supervise: ${project} belongs to another user (uid 65534), who could replace what is below it; choose another folder\n`);
    expect(existsSync(path.join(project, '.cfn-supervise'))).toBe(false);
  });

  it('says a file is not a folder', () => {
    refuses(() => ensurePrivateDir('/etc/passwd'), /^\/etc\/passwd is not a folder$/);
    refuses(() => ensurePrivateDir('/etc/passwd/state'), /^\/etc\/passwd is not a folder$/);
  });

  it('fails fast on a path where mkdir -p never ends (/proc/x): one line, exit 2', async () => {
    // In a real process: Node's recursive mkdir spins there forever, which would hang this worker.
    const cli = startCli(['--state-dir', '/proc/x', '--min-free', '0', '--', 'true'], { cwd: tempDir('cfn-fault-') });
    await waitFor(() => cli.child.exitCode !== null || cli.child.signalCode !== null, 20_000, 'the supervisor to give up on /proc/x');
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr().toString()).toBe('cfn-supervise: cannot create the folder /proc/x: no such file or directory\n');
  });
});

describe('openPrivateFile', () => {
  const RW_CREATE = constants.O_RDWR | constants.O_CREAT;

  it('creates a file 0600, and opens it again while it stays so', () => {
    const file = path.join(tempDir('cfn-fault-'), 'token');
    closeSync(openPrivateFile(file, RW_CREATE));
    expect(mode(file)).toBe(0o600);
    closeSync(openPrivateFile(file, RW_CREATE));
  });

  it('refuses a hard-linked file without truncating it', () => {
    const base = tempDir('cfn-fault-');
    const precious = path.join(base, 'precious');
    writeFileSync(precious, 'keep me\n', { mode: 0o600 });
    linkSync(precious, path.join(base, 'token'));
    refuses(() => openPrivateFile(path.join(base, 'token'), RW_CREATE | constants.O_TRUNC), /token has 2 hard links/);
    expect(readFileSync(precious, 'utf8')).toBe('keep me\n');
  });

  it('refuses a symlink, a foreign file, a loose mode and a folder', () => {
    const base = tempDir('cfn-fault-');
    writeFileSync(path.join(base, 'target'), '', { mode: 0o600 });
    symlinkSync(path.join(base, 'target'), path.join(base, 'link'));
    refuses(() => openPrivateFile(path.join(base, 'link'), RW_CREATE), /link is a symbolic link/);
    writeFileSync(path.join(base, 'foreign'), '', { mode: 0o600 });
    chownSync(path.join(base, 'foreign'), NOBODY, NOBODY);
    refuses(() => openPrivateFile(path.join(base, 'foreign'), RW_CREATE), /foreign belongs to another user/);
    writeFileSync(path.join(base, 'loose'), '', { mode: 0o640 });
    refuses(() => openPrivateFile(path.join(base, 'loose'), RW_CREATE), /loose has mode 0640, not 0600/);
    mkdirSync(path.join(base, 'folder'));
    refuses(() => openPrivateFile(path.join(base, 'folder'), RW_CREATE), /folder is not a regular file/);
  });
});

describe('the control token', () => {
  it('is never read or chmod\'ed through a planted symlink', async () => {
    const base = tempDir('cfn-fault-');
    const stateDir = path.join(base, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    const elsewhere = path.join(base, 'elsewhere');
    writeFileSync(elsewhere, `${'a'.repeat(64)}\n`, { mode: 0o644 });
    symlinkSync(elsewhere, path.join(stateDir, 'control.token'));
    const started = startControl(testHandlers(stateDir).handlers, { stateDir, metrics: new Metrics(), log: silentLog, controlPort: 0 });
    started.then((s) => onCleanup(() => s.close())).catch(() => {});
    await expect(started).rejects.toThrow(/control\.token is a symbolic link/);
    expect(mode(elsewhere)).toBe(0o644);
    expect(existsSync(path.join(stateDir, 'control.sock'))).toBe(false);
  });
});

describe('socketPathFor', () => {
  it('is not blocked by another user squatting the runtime folder', () => {
    const base = tempDir('cfn-squat-');
    const uid = process.getuid!();
    const squatted = path.join(base, `cfn-supervise-${uid}`);
    mkdirSync(squatted);
    chmodSync(squatted, 0o777);
    chownSync(squatted, NOBODY, NOBODY);
    const stateDir = path.join(tempDir('cfn-fault-'), 'a-rather-long-folder-name-'.repeat(4), 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const saved = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, TMPDIR: process.env.TMPDIR };
    process.env.XDG_RUNTIME_DIR = base;
    process.env.TMPDIR = base;
    let first: string;
    let second: string;
    try {
      first = socketPathFor(stateDir, 'control.sock');
      second = socketPathFor(stateDir, 'registry.sock');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const folder = path.dirname(first);
    expect(path.dirname(folder)).toBe(base);
    expect(folder).not.toBe(squatted);
    expect(second).toBe(path.join(folder, 'registry.sock'));
    const st = lstatSync(folder);
    expect(st.isDirectory() && st.uid === uid && (st.mode & 0o777) === 0o700).toBe(true);
    expect(readFileSync(path.join(stateDir, SOCKET_DIR_RECORD), 'utf8').trim()).toBe(folder);
    expect(mode(path.join(stateDir, SOCKET_DIR_RECORD))).toBe(0o600);
  });
});
