import { describe, expect, it } from 'vitest';
import { silenceMessage, silenceOf } from '../../src/cli/silence.js';

describe('why a supervisor is silent', () => {
  it.each([
    // [state in /proc, ping answered, verdict]
    ['T', undefined, 'stopped'],
    ['t', undefined, 'stopped'],
    ['T', true, 'stopped'],
    ['S', undefined, undefined],
    ['S', true, 'busy'],
    ['R', false, 'hung'],
    ['D', false, 'hung'],
    [undefined, false, 'hung'],
    [undefined, true, 'busy'],
  ] as const)('state %s, ping %s: %s', (state, ping, verdict) => {
    expect(silenceOf(state, ping)).toBe(verdict);
  });

  it('says what to do, in one line', () => {
    expect(silenceMessage('stopped', 42, '/s')).toBe('the supervisor (pid 42) is stopped (Ctrl-Z or SIGSTOP); `fg` in its terminal or `kill -CONT 42` resumes it');
    expect(silenceMessage('hung', undefined, '/s')).toBe('the supervisor in /s is not answering (hung for over 5 s); its log is /s/supervisor.log');
  });
});
