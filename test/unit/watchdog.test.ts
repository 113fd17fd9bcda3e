// When the supervisor replaces its watchdog, and what it sends it.
import { expect, it } from 'vitest';
import { MAX_BACKLOG_BYTES, targetsMessage, unfitWatchdog } from '../../src/supervisor/orphans/watchdog.js';

it.each([
  ['sleeping', 'S', 0, undefined],
  ['running', 'R', 100, undefined],
  ['stopped (SIGSTOP)', 'T', 0, 'stopped'],
  ['stopped by a tracer', 't', 0, 'stopped'],
  ['sleeping with a backlog it does not read', 'S', MAX_BACKLOG_BYTES + 1, 'not reading its pipe'],
  ['gone: its exit event starts the next', undefined, MAX_BACKLOG_BYTES + 1, undefined],
  ['a zombie: its exit event starts the next', 'Z', MAX_BACKLOG_BYTES + 1, undefined],
])('%s: %s', (_what, state, backlog, why) => {
  expect(unfitWatchdog(state, backlog)).toBe(why);
});

it('sends targets as one whole block, also when there are none', () => {
  expect(targetsMessage('pgid 5\npid 5 100')).toBe('targets\npgid 5\npid 5 100\nend\n');
  expect(targetsMessage('')).toBe('targets\nend\n');
});
