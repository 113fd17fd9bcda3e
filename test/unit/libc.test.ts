// The C calls are found among the process's own symbols, so whichever libc node links serves. A library that
// lacks one gives one line naming it; musl (Alpine's libc) exports every call the supervisor makes.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { closeSync, fstatSync } from 'node:fs';
import { DARWIN_DECLARATIONS, DECLARATIONS, LINUX_DECLARATIONS, bindCalls, darwinPipe, decodeWaitStatus, libc, libcFlavour } from '../../src/platform/libc.js';

const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
const MUSL = '/lib/x86_64-linux-musl/libc.so';

describe.runIf(process.platform === 'linux')('libc (Linux: its loader and musl are named)', () => {
  it("binds every call from the process's own symbols", () => {
    expect(libc().tcgetpgrp(-1)).toBe(-1);
  });

  it('names the first call a library lacks, in one line, with what still works', () => {
    // The dynamic loader: a real library with no dependencies (dlsym would search those) and no process calls.
    expect(() => bindCalls(koffi.load('ld-linux-x86-64.so.2'), LINUX_DECLARATIONS)).toThrow(/^this system's C library has no prctl\(\), which supervising needs; status, report, analyze and monitor still work$/);
  });

  it("makes macOS's close-on-exec pipe (pipe, then fcntl) with the same calls in this libc: no descriptor reaches the agent", () => {
    const { pipe } = bindCalls(koffi.load(null), DARWIN_DECLARATIONS);
    const { fcntl } = bindCalls(koffi.load(null), DECLARATIONS);
    const ends = darwinPipe(pipe, fcntl)!;
    try {
      for (const fd of ends) {
        expect(fstatSync(fd).isFIFO()).toBe(true);
        // F_GETFD (1) answers FD_CLOEXEC (1).
        expect(fcntl(fd, 1, 'int', 0)).toBe(1);
      }
    } finally {
      ends.forEach((fd) => closeSync(fd));
    }
  });

  it("is all in musl's libc", () => {
    const exported = new Set(execFileSync('nm', ['-D', '--defined-only', MUSL], { encoding: 'utf8' }).split('\n').map((line) => line.split(' ').at(-1)));
    expect(Object.keys({ ...DECLARATIONS, ...LINUX_DECLARATIONS }).filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe('libc flavours', () => {
  it("reads macOS's wait and signal-mask constants from its headers, and its continued status", () => {
    const mac = libcFlavour('darwin');
    expect(mac).toMatchObject({ library: '/usr/lib/libSystem.B.dylib', WCONTINUED: 0x10, SIG_BLOCK: 1, SIG_SETMASK: 3 });
    expect(decodeWaitStatus(7, mac.continuedStatus, mac.continuedStatus)).toEqual({ pid: 7, continued: true });
    // On Linux 0x137f is a stop by signal 19 (SIGSTOP there): only macOS reads it as continued.
    expect(decodeWaitStatus(7, 0x137f).continued).toBeUndefined();
    expect(libcFlavour('linux')).toMatchObject({ library: null, WCONTINUED: 8, SIG_BLOCK: 0, SIG_SETMASK: 2, continuedStatus: 0xffff });
  });
});
