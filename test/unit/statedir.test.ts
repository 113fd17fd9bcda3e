// Which folders above the state dir let another user replace it (sshd's StrictModes, with sticky folders allowed).
import { expect, it } from 'vitest';
import { replaceableBelow } from '../../src/common/statedir.js';

const ME = 1000;

it.each([
  ['root, 0755', 0, 0o755, undefined],
  ['ours, 0700', ME, 0o700, undefined],
  ['root, sticky and open (/tmp)', 0, 0o1777, undefined],
  ['ours, sticky and group-writable', ME, 0o1770, undefined],
  ['another user, 0755', 1001, 0o755, 'belongs to another user (uid 1001)'],
  ['another user, sticky (they own it: they may move anything in it)', 1001, 0o1777, 'belongs to another user (uid 1001)'],
  ['root, group-writable', 0, 0o775, 'is writable by its group and not sticky (mode 0775)'],
  ['ours, open to all', ME, 0o777, 'is writable by others and not sticky (mode 0777)'],
  ['ours, writable by others only', ME, 0o757, 'is writable by others and not sticky (mode 0757)'],
])('%s: %s', (_what, uid, mode, why) => {
  expect(replaceableBelow({ uid, mode }, ME)).toBe(why);
});
