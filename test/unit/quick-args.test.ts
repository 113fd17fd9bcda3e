// The quick readings (node's parseArgs) of a supervisor start's options and of `status`, `restart` and `top`, against
// commander's, which prints every message a person sees: where the quick one reads at all, both must read the same.
import { describe, expect, it } from 'vitest';
import { commanderControlArgs, commanderSuperviseArgs } from '../../src/cli/program.js';
import { quickControlArgs, quickSuperviseArgs } from '../../src/cli/quick-args.js';
import { OPTIONS } from '../../src/config/config.js';

/** One command line per option, in the form it is written. */
const eachOption: string[][] = OPTIONS.map((o) => {
  if (o.negate) return [`--no-${o.name}`];
  if (!o.arg) return [`--${o.name}`];
  if (o.list) return [`--${o.name}`, 'first value', `--${o.name}=second`];
  return [`--${o.name}`, `value of ${o.name}`];
});

const together = eachOption.flat();

describe('quickSuperviseArgs', () => {
  const cases: [string, string[]][] = [
    ...eachOption.map((argv): [string, string[]] => [argv.join(' '), argv]),
    ['every option at once', together],
    ['nothing', []],
    ['--name=value and a config file', ['--heap-limit=512', '--config', 'cfn.yaml']],
    ['a repeated option: the last one', ['--heap-limit', '100', '--heap-limit', '200']],
    ['a value that is empty', ['--state-dir=']],
  ];
  it.each(cases)('reads %s as commander does', async (_name, argv) => {
    const quick = quickSuperviseArgs([...argv]);
    expect(quick).toBeDefined();
    expect(quick).toEqual(await commanderSuperviseArgs([...argv]));
  });

  it('reads switches, negations and lists into the raw strings resolveConfig takes', () => {
    expect(quickSuperviseArgs(['--no-probe', '--quiet', '--alert-exec', 'a', '--alert-exec', 'b', '--heap-limit', '300'])).toEqual({
      flags: { probe: 'false', quiet: 'true', alertExec: 'a\nb', heapLimitMb: '300' },
    });
  });

  it.each<[string, string[]]>([
    ['an unknown option', ['--bogus']],
    ['a misspelt one', ['--heap-limt', '5']],
    ['help', ['--help']],
    ['a short option', ['-h']],
    ['the version', ['--version']],
    ['a subcommand', ['status']],
    ['a word before --', ['node']],
    ['a missing value', ['--heap-limit']],
    ['a value that looks like an option', ['--heap-limit', '--quiet']],
    ['a value given to a switch', ['--quiet=yes']],
    ['the positive form of a negated switch', ['--probe']],
  ])('leaves %s to commander', (_name, argv) => {
    expect(quickSuperviseArgs(argv)).toBeUndefined();
  });
});

describe('quickControlArgs', () => {
  it.each<string[]>([
    ['status'],
    ['status', '--json'],
    ['restart', '--json'],
    ['top'],
    ['status', '--state-dir', '/s'],
    ['--state-dir', '/s', 'status'],
    ['--state-dir=/root', 'status', '--state-dir', '/sub'],
    ['--config', 'cfn.yaml', 'top', '--state-dir', '/s'],
    ['status', '--config=cfn.yaml', '--json', '--state-dir='],
    ['status', '--state-dir', '/a', '--state-dir', '/b'],
  ])('reads %j as commander does', async (...argv) => {
    const quick = quickControlArgs([...argv]);
    expect(quick).toBeDefined();
    expect(quick).toEqual(await commanderControlArgs([...argv]));
  });

  it.each<[string, string[]]>([
    ['another subcommand', ['gc']],
    ['a supervisor start', ['--heap-limit', '5']],
    ['--json before the subcommand', ['--json', 'status']],
    ['--json where it means nothing', ['top', '--json']],
    ['a root option that does not apply', ['--interval', '5', 'status']],
    ['an option of another subcommand', ['status', '--pid', '3']],
    ['help', ['status', '--help']],
    ['a word too many', ['status', 'now']],
    ['two subcommands', ['status', 'top']],
    ['an agent command', ['status', '--', 'node']],
    ['a missing value', ['status', '--state-dir']],
    ['a value given to a switch', ['status', '--json=yes']],
  ])('leaves %s to commander', (_name, argv) => {
    expect(quickControlArgs(argv)).toBeUndefined();
  });
});
