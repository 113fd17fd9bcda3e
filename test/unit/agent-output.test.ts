import { describe, expect, it } from 'vitest';
import { redactText } from '../../src/common/redact.js';
import { LineSplitter, LogBudget, Tail } from '../../src/supervisor/output/lines.js';
import { planOutput, type StdioFacts } from '../../src/supervisor/output/plan.js';

describe('planOutput', () => {
  const cases: [string, StdioFacts, ReturnType<typeof planOutput>][] = [
    ['off', { enabled: false, stdoutTty: false, stderrTty: false, sameDestination: false }, []],
    ['a terminal on both', { enabled: true, stdoutTty: true, stderrTty: true, sameDestination: true }, []],
    ['two pipes (Docker)', { enabled: true, stdoutTty: false, stderrTty: false, sameDestination: false }, [{ stream: 'stdout', fds: [1] }, { stream: 'stderr', fds: [2] }]],
    ['one socket (systemd, 2>&1)', { enabled: true, stdoutTty: false, stderrTty: false, sameDestination: true }, [{ stream: 'stdout+stderr', fds: [1, 2] }]],
    ['stdout to a file, stderr a terminal', { enabled: true, stdoutTty: false, stderrTty: true, sameDestination: false }, [{ stream: 'stdout', fds: [1] }]],
    ['stderr to a file, stdout a terminal', { enabled: true, stdoutTty: true, stderrTty: false, sameDestination: false }, [{ stream: 'stderr', fds: [2] }]],
  ];
  it.each(cases)('%s', (_name, facts, expected) => expect(planOutput(facts)).toEqual(expected));
});

describe('LineSplitter', () => {
  const split = (chunks: string[], max = 8) => {
    const s = new LineSplitter(max);
    return [...chunks.flatMap((c) => s.push(Buffer.from(c))), ...s.end()];
  };
  const cases: [string, string[], ReturnType<LineSplitter['push']>][] = [
    ['whole lines', ['a\nb\n'], [{ text: 'a' }, { text: 'b' }]],
    ['a line across chunks', ['ab', 'c\nd'], [{ text: 'abc' }, { text: 'd', partial: true }]],
    ['empty lines', ['\n\n'], [{ text: '' }, { text: '' }]],
    ['a line longer than the bound', ['0123456789ab\n'], [{ text: '01234567', partial: true }, { text: '89ab' }]],
    ['the bound reached across chunks', ['0123', '4567', '89'], [{ text: '01234567', partial: true }, { text: '89', partial: true }]],
    ['nothing', [], []],
  ];
  it.each(cases)('%s', (_name, chunks, expected) => expect(split(chunks)).toEqual(expected));

  it('keeps bytes that are not UTF-8 as replacement characters', () => {
    expect(split(['\u00e9\n']).map((l) => l.text)).toEqual(['é']);
    const s = new LineSplitter(64);
    expect(s.push(Buffer.from([0xff, 0x41, 0x0a]))).toEqual([{ text: '\ufffdA' }]);
    // A character split across two reads is one character.
    expect([...s.push(Buffer.from([0x63, 0xc3])), ...s.push(Buffer.from([0xa9, 0x0a]))]).toEqual([{ text: 'cé' }]);
  });
});

it('Tail keeps the last n', () => {
  const t = new Tail<number>(3);
  for (let i = 0; i < 4; i++) t.push([i]);
  t.push([4, 5]);
  expect(t.get()).toEqual([3, 4, 5]);
  t.push([6, 7, 8, 9]);
  expect(t.get()).toEqual([7, 8, 9]);
});

describe('LogBudget', () => {
  // [bytes, at ms] → logged?
  const cases: [string, [number, number][], boolean[]][] = [
    ['a burst within it', [[600, 0], [400, 0]], [true, true]],
    ['past the burst', [[600, 0], [600, 0]], [true, false]],
    ['refilled at the rate', [[1000, 0], [500, 0], [500, 5000]], [true, false, true]],
    ['never above the burst', [[1000, 0], [1000, 1_000_000], [100, 1_000_000]], [true, true, false]],
    ['a chunk bigger than the burst is never logged', [[2000, 0]], [false]],
  ];
  it.each(cases)('%s', (_name, reads, expected) => {
    const b = new LogBudget(100, 1000);
    expect(reads.map(([bytes, at]) => b.take(bytes, at))).toEqual(expected);
  });
});

describe('redactText', () => {
  const cases: [string, string][] = [
    ['plain output stays as it is', 'plain output stays as it is'],
    ['login --token abc123 done', 'login --token *** done'],
    ['export API_KEY=sk-123 now', 'export API_KEY=*** now'],
    ['GET https://user:pw@host/x?access_token=zz ok', 'GET https://user:***@host/x?access_token=*** ok'],
    ['Authorization: Bearer abc.def', 'Authorization: Bearer ***'],
    ['  spacing\tkept  key=1', '  spacing\tkept  key=***'],
  ];
  it.each(cases)('%s', (line, expected) => expect(redactText(line)).toBe(expected));
});
