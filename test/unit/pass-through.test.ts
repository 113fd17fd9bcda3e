import { describe, expect, it } from 'vitest';
import { sharedFds } from '../../src/supervisor/output/pass-through.js';

describe('sharedFds', () => {
  const table: [string, [number, number, number], number[]][] = [
    ['no agent log: both handed over', [0, 1, 2], [1, 2]],
    ['stdout piped for the log, stderr a terminal', [0, 17, 2], [2]],
    ['one pipe for both', [0, 17, 17], []],
  ];
  it.each(table)('%s', (_, stdio, shared) => {
    expect(sharedFds(stdio)).toEqual(shared);
  });
});
