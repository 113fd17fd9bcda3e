// The human report's building blocks.
import { describe, expect, it } from 'vitest';
import { formatBytes, pathText, siteText } from '../../src/analysis/format.js';

describe('format', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
    [-2048, '-2.0 KiB'],
    [3 * 1024 ** 4, '3.0 TiB'],
  ])('formatBytes(%i) is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('writes a site as function and 1-based location, or the bare name for native code', () => {
    expect(siteText({ functionName: 'leak', url: 'file:///a.js', line: 3, column: 7 })).toBe('leak file:///a.js:3:7');
    expect(siteText({ functionName: '(GC)', url: '', line: 0, column: 0 })).toBe('(GC)');
  });

  it('names the builtins a site allocated through after its location', () => {
    expect(siteText({ functionName: 'leak', url: 'file:///a.js', line: 3, column: 7, via: ['repeat', 'push'] })).toBe('leak file:///a.js:3:7 via repeat, push');
    expect(siteText({ functionName: 'leak', url: 'file:///a.js', line: 3, column: 7, via: [] })).toBe('leak file:///a.js:3:7');
  });

  it('writes a retainer path as edges between nodes, marking what was left out', () => {
    const step = (edge: string, node: string) => ({ edge, node, id: 1 });
    expect(pathText({ steps: [step('.x', 'global'), step('.leaks', 'Array'), step('[3]', 'onEvent()')], elided: 0 })).toBe('global.leaks → Array[3] → onEvent()');
    const long = { steps: ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => step('.next', n)), elided: 10 };
    expect(pathText(long)).toBe('a.next → b.next → c.next → d … 10 more … .next → e.next → f');
  });
});
