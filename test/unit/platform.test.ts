// The portable backend's readers on recorded output, in the formats BSD ps, lsof -F, vm_stat and procps document
// (the BSD ones written from macOS's man pages: not yet recorded on a Mac), and which backend runs where.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { maxSocketPathBytes, socketFits } from '../../src/common/statedir.js';
import { EXIT } from '../../src/common/errors.js';
import { BackendUnavailable, selectBackend } from '../../src/platform/index.js';
import { countDescriptors, listenersIn, parseLsof } from '../../src/platform/portable/lsof.js';
import { memoryFigures, parseFree, parseVmStat } from '../../src/platform/memory-tools.js';
import { envFlag, parseCpuTime, parseMarked, parsePs, parseTargetStatus } from '../../src/platform/portable/ps.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/platform/${name}`, import.meta.url), 'utf8');

describe('backend selection', () => {
  it.each([
    [undefined, 'linux', 'linux'],
    ['', 'linux', 'linux'],
    ['portable', 'linux', 'portable'],
    ['linux', 'linux', 'linux'],
    [undefined, 'darwin', 'portable'],
    ['portable', 'darwin', 'portable'],
    [undefined, 'freebsd', 'portable'],
  ] as const)('CFN_SUPERVISE_BACKEND=%s on %s: %s', (requested, os, backend) => {
    expect(selectBackend(requested, os)).toBe(backend);
  });

  it('refuses an unknown backend, and linux where there is no /proc', () => {
    expect(() => selectBackend('bsd', 'linux')).toThrow(/^CFN_SUPERVISE_BACKEND must be linux or portable, not bsd$/);
    expect(() => selectBackend('linux', 'darwin')).toThrow(/^CFN_SUPERVISE_BACKEND=linux needs Linux, not darwin$/);
    // The seam cannot import common/errors.ts: the number is written twice, and held equal here.
    expect(new BackendUnavailable('').exitCode).toBe(EXIT.usage);
  });
});

describe('ps', () => {
  it('reads BSD ps: state letter and flags, M:SS.cc times, executable paths with spaces, a leap day', () => {
    const procs = parsePs(fixture('bsd-ps.txt'));
    expect(procs.size).toBe(8);
    expect(procs.get(8801)).toEqual({
      pid: 8801, ppid: 8790, pgid: 8801, sid: 0, rssPages: 81234, cpuTicks: 351, state: 'S', comm: 'node', threads: 0, exiting: false,
      startTime: Date.UTC(2026, 11, 6, 16, 2, 44) / 1000,
    });
    expect(procs.get(8802)).toMatchObject({ state: 'Z', comm: '<defunct>' });
    expect(procs.get(8810)).toMatchObject({ state: 'R', comm: 'Electron', cpuTicks: (3600 + 2 * 60 + 3) * 100 + 4 });
    expect(procs.get(8811)).toMatchObject({ state: 'D', exiting: true, ppid: 1 });
    expect(procs.get(8812)).toMatchObject({ state: 'T', startTime: Date.UTC(2028, 1, 29, 23, 59, 59) / 1000 });
    expect(procs.get(1)).toMatchObject({ comm: 'launchd', cpuTicks: 15145 });
  });

  it("reads GNU procps: whole seconds, days, comm with spaces (npm's title)", () => {
    const procs = parsePs(fixture('gnu-ps.txt'));
    expect(procs.get(3782)).toMatchObject({ comm: 'npm exec leaky', sid: 3700, cpuTicks: (86400 + 2 * 3600 + 3 * 60 + 4) * 100, rssPages: 51200 });
    expect(procs.get(3790)).toMatchObject({ state: 'Z', pgid: 3782 });
  });

  it.each([
    ['0:00.05', 5],
    ['12:34.56', (12 * 60 + 34) * 100 + 56],
    ['00:00:14', 1400],
    ['2-00:00:00', 2 * 86400 * 100],
    ['-', undefined],
    ['1:x', undefined],
  ])('cpu time %s', (text, ticks) => {
    expect(parseCpuTime(text)).toBe(ticks);
  });

  it('reads what a refusal to attach needs, with the newline ps ends on', () => {
    expect(parseTargetStatus('  501 S+   /Applications/Visual Studio Code.app/Contents/MacOS/Electron\n')).toEqual({ uid: 501, state: 'S', comm: 'Electron' });
    expect(parseTargetStatus('    0 UE   sleep\n')).toEqual({ uid: 0, state: 'D', comm: 'sleep' });
    expect(parseTargetStatus('')).toBeUndefined();
  });

  it("finds the processes whose environment carries a run's mark, as procps (e) and BSD ps (-E) print it", () => {
    const mark = 'CFN_SUPERVISE_RUN=e31bcebc-1';
    const text = [
      // procps, recorded: `ps -A e -ww -o pid=,args=`.
      `24456 sleep 30 ${mark} SHELL=/bin/bash IS_SANDBOX=yes PYTHONUNBUFFERED=1`,
      // BSD ps -E: the same words after the command (ps(1) of macOS).
      `  8801 /usr/local/bin/node -e setTimeout(()=>{},9e5) TMPDIR=/var/folders/xy/T/ ${mark} HOME=/Users/me`,
      // Another run's, a longer id, a mark inside an argument: not ours.
      '  8802 node daemon.js CFN_SUPERVISE_RUN=e31bcebc-2',
      `  8803 node daemon.js ${mark}0`,
      `  8804 sh -c echo:${mark}`,
      '',
    ].join('\n');
    expect([...parseMarked(text, mark)]).toEqual([24456, 8801]);
    expect(envFlag('darwin')).toBe('-E');
    expect(envFlag('linux')).toBe('e');
  });

  it('skips what is not a row (a header, a truncated line)', () => {
    expect(parsePs('  PID  PPID\n  12 1 12 0 100 0:00.01 S Sun Dec\n').size).toBe(0);
  });
});

describe('lsof -F', () => {
  const files = parseLsof(fixture('bsd-lsof.txt'));

  it('counts numbered descriptors and established TCP connections per process', () => {
    expect(countDescriptors(files.get(8801)!)).toEqual({ fds: 9, connections: 2 });
    expect(countDescriptors(files.get(8810)!)).toEqual({ fds: 2, connections: 0 });
  });

  it('gives listeners as /proc would: wildcards as 0.0.0.0 or ::, IPv6 without brackets, the device as identity', () => {
    expect(listenersIn(files.get(8801)!)).toEqual([
      { address: '127.0.0.1', port: 9229, inode: '0x5a3c8e1f2b0c1d3e' },
      { address: '::', port: 3000, inode: '0x5a3c8e1f2b0c1d4f' },
    ]);
    expect(listenersIn(files.get(8810)!)).toEqual([{ address: '::1', port: 9230, inode: '0x5a3c8e1f2b0c1ea4' }]);
  });

  it('takes the first txt file as the executable (dyld comes after it on macOS)', () => {
    expect(files.get(8801)!.find((f) => f.fd === 'txt')?.name).toBe('/opt/homebrew/Cellar/node/22.3.0/bin/node');
  });
});

describe('memory figures', () => {
  it("reads vm_stat: free, inactive, speculative and purgeable pages are available, at vm_stat's page size", () => {
    const available = parseVmStat(fixture('vm_stat.txt'));
    expect(available).toBe((3000 + 190000 + 7000 + 10000) * 16384);
    expect(memoryFigures(16 * 1024 ** 3, available!)).toEqual({ total_mb: 16384, available_mb: 3281, used_mb: 13103, percent: 80 });
  });

  it("reads free -b's Mem line", () => {
    expect(parseFree(fixture('free.txt'))).toEqual({ total: 25276182528, available: 22118641664 });
    expect(parseFree('nothing')).toBeUndefined();
  });
});

describe('socket paths', () => {
  it("fit in 104 bytes on macOS and 108 on Linux, the NUL included", () => {
    const at = (n: number) => `/${'x'.repeat(n - 1)}`;
    expect(maxSocketPathBytes('darwin')).toBe(103);
    expect(socketFits(at(103), 'darwin')).toBe(true);
    expect(socketFits(at(104), 'darwin')).toBe(false);
    expect(socketFits(at(107), 'linux')).toBe(true);
    expect(socketFits(at(104), 'linux')).toBe(true);
  });
});
