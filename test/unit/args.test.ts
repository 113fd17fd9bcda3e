// The one reading of the command line (src/cli/args.ts) on tables of cases: what each command line asks for, and
// the one-line error each mistake gets.
import { describe, expect, it } from 'vitest';
import { columns, parseCommandLine, subcommandHelp, switchFlag, valueFlag, type Subcommand } from '../../src/cli/args.js';
import { OPTIONS } from '../../src/config/config.js';

const TABLE: Subcommand[] = [
  { name: 'status', description: 'show', flags: [switchFlag('json', 'as JSON')] },
  { name: 'top', description: 'live' },
  { name: 'config', description: 'effective', allOptions: true, flags: [switchFlag('live', 'running')] },
  { name: 'check', description: 'preflight', accepts: ['minFreeMb'], flags: [valueFlag('min-free', '<MB>', 'memory')] },
  { name: 'monitor', description: 'watch', flags: [valueFlag('pid', '<n>', 'which', true), switchFlag('capture-on-growth', 'save')] },
  { name: 'analyze', description: 'summarise', args: '<file> [file2]', flags: [valueFlag('top', '<n>', 'how many')] },
];

const parse = (argv: string[]) => parseCommandLine(argv, TABLE);

/** One command line per supervisor option, in the form it is written. */
const eachOption: [string[], Record<string, string>][] = OPTIONS.map((o) => {
  if (o.negate) return [[`--no-${o.name}`], { [o.key]: 'false' }];
  if (!o.arg) return [[`--${o.name}`], { [o.key]: 'true' }];
  if (o.list) return [[`--${o.name}`, 'first value', `--${o.name}=second`], { [o.key]: 'first value\nsecond' }];
  return [[`--${o.name}`, `value of ${o.name}`], { [o.key]: `value of ${o.name}` }];
});

describe('a supervisor start', () => {
  it.each(eachOption)('%j reads into the raw strings resolveConfig takes', (argv, flags) => {
    expect(parse([...argv, '--', 'node', 'app.js'])).toEqual({ kind: 'supervise', args: { flags }, agent: ['node', 'app.js'] });
  });

  it.each<[string, string[], object]>([
    ['every option at once', [...eachOption.flatMap(([a]) => a), '--', 'x'], { flags: Object.assign({}, ...eachOption.map(([, f]) => f)) as object }],
    ['--name=value and a config file', ['--heap-limit=512', '--config', 'cfn.yaml', '--', 'x'], { flags: { heapLimitMb: '512' }, configFile: 'cfn.yaml' }],
    ['a repeated option: the last one', ['--heap-limit', '100', '--heap-limit', '200', '--', 'x'], { flags: { heapLimitMb: '200' } }],
    ['an empty value', ['--state-dir=', '--', 'x'], { flags: { stateDir: '' } }],
    ['the agent named like a subcommand, its own options untouched', ['--', 'status', '--bogus', '--'], { flags: {} }],
  ])('%s', (_, argv, args) => {
    expect(parse(argv)).toMatchObject({ kind: 'supervise', args });
  });
});

describe('subcommands', () => {
  it.each<[string, string[], object]>([
    ['the state dir before or after, its own over the root', ['--state-dir', 'a', 'status', '--json', '--state-dir', 'b'], { args: { flags: { stateDir: 'b' } }, opts: { json: true } }],
    ['a config file before it', ['--config', 'f.yaml', 'top'], { args: { flags: {}, configFile: 'f.yaml' } }],
    ['every supervisor option for config, before and after', ['--heap-limit', '300', 'config', '--cooldown', '5m', '--live'], { args: { flags: { heapLimitMb: '300', cooldownS: '5m' } }, opts: { live: true } }],
    ['an option it accepts from the root', ['--min-free', '10', 'check', '--min-free', '20'], { args: { flags: { minFreeMb: '10' } }, opts: { minFree: '20' } }],
    ['its own flags in camel case', ['monitor', '--pid', '7', '--capture-on-growth'], { opts: { pid: '7', captureOnGrowth: true } }],
    ['positional arguments where it takes them', ['analyze', 'a.heapprofile', '--top', '3', 'b.heapprofile'], { positional: ['a.heapprofile', 'b.heapprofile'], opts: { top: '3' } }],
  ])('%s', (_, argv, expected) => {
    expect(parse(argv)).toMatchObject({ kind: 'subcommand', ...expected });
  });
});

describe('help and version', () => {
  it.each<[string[], RegExp]>([
    [['--help'], /^Usage: cfn-supervise \[options\] -- <command>/],
    [['-h'], /^Usage: cfn-supervise \[options\]/],
    [['help'], /^Usage: cfn-supervise \[options\]/],
    [['help', 'status'], /^Usage: cfn-supervise status \[options\]\n/],
    [['status', '--help'], /^Usage: cfn-supervise status \[options\]\n/],
    [['analyze', '-h'], /^Usage: cfn-supervise analyze \[options\] <file> \[file2\]\n/],
  ])('%j', (argv, text) => {
    const parsed = parse(argv);
    expect(parsed.kind).toBe('help');
    expect(parsed.kind === 'help' && parsed.text).toMatch(text);
  });

  it('the root help lists every option with its default, and every subcommand', () => {
    const parsed = parse(['--help']);
    const text = parsed.kind === 'help' ? parsed.text.replace(/\s+/g, ' ') : '';
    for (const o of OPTIONS) expect(text).toContain(o.negate ? `--no-${o.name}` : `--${o.name}`);
    expect(text).toMatch(/--cooldown <s> .*\(default: 300\)/);
    for (const s of TABLE) expect(text).toContain(` ${s.name} `);
  });

  it("a subcommand's help shows its own flags, not the supervisor's", () => {
    expect(subcommandHelp(TABLE[0]!, 80)).not.toMatch(/--backoff/);
    expect(subcommandHelp(TABLE[2]!, 80)).toMatch(/--backoff/);
  });

  it.each([['--version'], ['-V'], ['--quiet', '--version']])('%j', (...argv) => {
    expect(parse(argv)).toEqual({ kind: 'version' });
  });

  it('wraps a long description under itself', () => {
    expect(columns([['--x', 'one two three four'], ['--longer <n>', 'five']], 20)).toEqual(['  --x           one two three four', '  --longer <n>  five']);
    expect(columns([['--x', 'aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll']], 40)).toEqual(['  --x  aaaa bbbb cccc dddd eeee ffff\n       gggg hhhh iiii jjjj kkkk llll']);
  });
});

describe('mistakes: one line that says what was meant', () => {
  it.each<[string[], string]>([
    [['node', 'app.js'], "unknown subcommand 'node'; to supervise a command, put -- before it: cfn-supervise [options] -- node app.js"],
    [['stauts'], "unknown subcommand 'stauts'; did you mean 'status'?"],
    [['--quiet', 'top', 'x'], "unexpected 'x' after 'top': it takes no arguments"],
    [['--quiet=1', '--', 'node'], "unknown option '--quiet=1' (did you mean --quiet?)"],
    [['--heap-limt', '512', '--', 'node'], "unknown option '--heap-limt' (did you mean --heap-limit?)"],
    [['--bogus', '--', 'true'], "unknown option '--bogus'"],
    [['status', '--jsn'], "unknown option '--jsn' (did you mean --json?)"],
    [['status', '--heap-limit', '5'], "unknown option '--heap-limit'"],
    [['--quiet', '512', '--', 'node'], "unexpected '512' before --; options go before --, the agent's command after it"],
    [['--heap-limit'], "option '--heap-limit <MB>' argument missing"],
    [['monitor', '--pid'], "option '--pid <n>' argument missing"],
    [['monitor'], "required option '--pid <n>' not specified"],
    [['--heap-limit', '300', 'status'], "--heap-limit does not apply to 'status'"],
    [['status', '--', 'node'], "'status' takes no agent command after --"],
    [['help', 'nope'], "no subcommand 'nope'; the subcommands are status, top, config, check, monitor, analyze"],
    [[], 'missing the agent command: cfn-supervise [options] -- <command> [args...]'],
    [['--'], 'missing the agent command after --'],
    [['--quiet', '--', ''], 'missing the agent command after --'],
  ])('%j', (argv, message) => {
    expect(() => parse(argv)).toThrow(expect.objectContaining({ name: 'UsageError', message }) as Error);
  });
});
