// The C calls are found among the process's own symbols, so whichever libc node links serves. A library that
// lacks one gives one line naming it; musl (Alpine's libc) exports every call the supervisor makes.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DECLARATIONS, bindCalls, libc } from '../../src/common/libc.js';

const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
const MUSL = '/lib/x86_64-linux-musl/libc.so';

describe('libc', () => {
  it("binds every call from the process's own symbols", () => {
    expect(libc().tcgetpgrp(-1)).toBe(-1);
  });

  it('names the first call a library lacks, in one line, with what still works', () => {
    // The dynamic loader: a real library with no dependencies (dlsym would search those) and no process calls.
    expect(() => bindCalls(koffi.load('ld-linux-x86-64.so.2'))).toThrow(/^this system's C library has no prctl\(\), which supervising needs; status, report, analyze and monitor still work$/);
  });

  it("is all in musl's libc", () => {
    const exported = new Set(execFileSync('nm', ['-D', '--defined-only', MUSL], { encoding: 'utf8' }).split('\n').map((line) => line.split(' ').at(-1)));
    expect(Object.keys(DECLARATIONS).filter((name) => !exported.has(name))).toEqual([]);
  });
});
