// The one reading of a command line: node's parseArgs, driven by one table of flags per command (the root's and
// each subcommand's), which also gives the help texts and the "did you mean"s. Everything after the first `--` is
// the agent's command line, untouched, so an agent named like a subcommand can never be mistaken for one. Pure:
// it returns what to do, or throws a one-line UsageError; program.ts does it.
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import { LIST_SEPARATOR, OPTIONS, camel, flagOf, writtenFlag, type Config, type OptionSpec } from '../config/config.js';

export const PROGRAM = 'cfn-supervise';

/** One flag: `--name <arg>` takes a value, `--name` alone is a switch. */
export interface Flag {
  /** As written, without its dashes: 'pid', 'no-probe'. */
  name: string;
  /** The value's syntax in help and errors ('<n>'); absent for a switch. */
  arg?: string;
  short?: string;
  description: string;
  required?: boolean;
  /** The supervisor option it sets, its value handed to resolveConfig as written. */
  option?: OptionSpec;
}

export interface Subcommand {
  name: string;
  description: string;
  /** Its positional arguments, for the help ('<file> [file2]'); without, it takes none. */
  args?: string;
  /** Its own flags; --state-dir and --config (or, with allOptions, every supervisor option) come with it. */
  flags?: Flag[];
  /** Takes every supervisor option (config shows their effect). */
  allOptions?: boolean;
  /** Supervisor options that mean something to it when written before it (besides the state dir). */
  accepts?: (keyof Config)[];
}

/** The supervisor options a command line gives, as raw strings for resolveConfig. */
export interface SuperviseArgs {
  flags: Partial<Record<keyof Config, string>>;
  configFile?: string;
}

export type Parsed<S extends Subcommand> =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'supervise'; args: SuperviseArgs; agent: string[] }
  /** `opts`: the subcommand's own flags by camel-case name, a switch as true. */
  | { kind: 'subcommand'; spec: S; args: SuperviseArgs; opts: Record<string, string | true>; positional: string[] };

export const switchFlag = (name: string, description: string): Flag => ({ name, description });
export const valueFlag = (name: string, arg: string, description: string, required = false): Flag => ({ name, arg, description, required });

const HELP: Flag = { name: 'help', short: 'h', description: 'display help for command' };
const VERSION: Flag = { name: 'version', short: 'V', description: 'output the version number' };
const CONFIG: Flag = valueFlag('config', '<file>', 'JSON or YAML file of options (flags and CFN_SUPERVISE_* override it)');
/** Options every subcommand understands, wherever they are written: they say which supervisor is meant. */
const GLOBAL_KEYS: ReadonlySet<keyof Config> = new Set(['stateDir']);
const SUBCOMMAND_SCOPE: Flag[] = [
  { ...valueFlag('state-dir', '<dir>', 'the state dir of the supervisor meant (default .cfn-supervise)'), option: OPTIONS.find((o) => o.key === 'stateDir')! },
  valueFlag('config', '<file>', 'a config file naming the state dir'),
];

function supervisorFlags(withDefaults: boolean): Flag[] {
  return OPTIONS.map((opt) => {
    const shown = withDefaults && !opt.negate && opt.arg && opt.default !== '' && !opt.list ? ` (default: ${opt.shownDefault ?? String(opt.default)})` : '';
    return { name: writtenFlag(opt).slice(2), ...(opt.arg ? { arg: opt.arg } : {}), description: `${opt.description}${shown}`, option: opt };
  });
}

const ROOT_FLAGS = (): Flag[] => [CONFIG, ...supervisorFlags(true), VERSION, HELP];
const flagsOf = (spec: Subcommand): Flag[] => [...(spec.allOptions ? [CONFIG, ...supervisorFlags(false)] : SUBCOMMAND_SCOPE), ...(spec.flags ?? []), HELP];

/** Edit distance, for "did you mean": a mistyped name is usually one or two keys away. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The nearest of `names` to `word`, when it is near enough to be what was meant. */
export function nearest(word: string, names: string[]): string | undefined {
  const near = names.map((name) => ({ name, d: distance(word, name) })).filter(({ name, d }) => d <= Math.max(1, Math.floor(name.length / 3)));
  return near.sort((a, b) => a.d - b.d)[0]?.name;
}

interface Read {
  /** Each flag given, with its values in order (a switch: one empty string per time given). */
  given: Map<Flag, string[]>;
  /** Words that are no flag nor a flag's value, with where they are in the command line read. */
  positional: { value: string; index: number }[];
}

/** Reads `args` against `flags`; the first word that is not an option's, and what follows, when `stopAtWord`. */
function read(args: string[], flags: Flag[], stopAtWord: boolean): Read {
  const options = Object.fromEntries(flags.map((f) => [f.name, { type: f.arg ? ('string' as const) : ('boolean' as const), ...(f.short ? { short: f.short } : {}) }]));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const result: Read = { given: new Map(), positional: [] };
  for (const t of tokens) {
    if (t.kind === 'positional') {
      result.positional.push({ value: t.value, index: t.index });
      if (stopAtWord) break;
      continue;
    }
    if (t.kind !== 'option') continue;
    const written = args[t.index]!;
    const flag = flags.find((f) => t.rawName === `--${f.name}` || (f.short !== undefined && t.rawName === `-${f.short}`));
    if (!flag) {
      const meant = nearest(t.rawName.replace(/^-+/, ''), flags.map((f) => f.name));
      throw new UsageError(`unknown option '${written}'${meant ? ` (did you mean --${meant}?)` : ''}`);
    }
    if (!flag.arg && t.value !== undefined) throw new UsageError(`unknown option '${written}' (did you mean --${flag.name}?)`);
    if (flag.arg && t.value === undefined) throw new UsageError(`option '--${flag.name} ${flag.arg}' argument missing`);
    result.given.set(flag, [...(result.given.get(flag) ?? []), t.value ?? '']);
  }
  return result;
}

/** What the flags read say of the supervisor's options: the last value of each, every value of a list. */
function superviseArgs(given: Map<Flag, string[]>): SuperviseArgs {
  const args: SuperviseArgs = { flags: {} };
  for (const [flag, values] of given) {
    const opt = flag.option;
    if (opt) args.flags[opt.key] = opt.list ? values.join(LIST_SEPARATOR) : opt.negate ? 'false' : opt.arg ? values.at(-1)! : 'true';
    else if (flag.name === 'config') args.configFile = values.at(-1)!;
  }
  return args;
}

/** The subcommand's own flags by camel-case name, as the commands take them. */
function ownOpts(spec: Subcommand, given: Map<Flag, string[]>): Record<string, string | true> {
  const opts: Record<string, string | true> = {};
  for (const flag of spec.flags ?? []) {
    const values = given.get(flag);
    if (values) opts[camel(flag.name)] = flag.arg ? values.at(-1)! : true;
  }
  return opts;
}

/** The first word before `--` that names no subcommand: what was meant, in one line. */
function unknownWord(word: string, rest: string[], names: string[], hasAgent: boolean): UsageError {
  const meant = nearest(word, names);
  if (meant) return new UsageError(`unknown subcommand '${word}'; did you mean '${meant}'?`);
  if (hasAgent) return new UsageError(`unexpected '${word}' before --; options go before --, the agent's command after it`);
  return new UsageError(`unknown subcommand '${word}'; to supervise a command, put -- before it: ${PROGRAM} [options] -- ${[word, ...rest].join(' ')}`);
}

/** Reads a command line against the subcommands `table`; throws a UsageError that says what was meant. */
export function parseCommandLine<S extends Subcommand>(argv: string[], table: readonly S[], width = 80): Parsed<S> {
  const dashdash = argv.indexOf('--');
  const agent = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const rootFlags = ROOT_FLAGS();
  const root = read(own, rootFlags, true);
  if (root.given.has(HELP)) return { kind: 'help', text: rootHelp(table, width) };
  if (root.given.has(VERSION)) return { kind: 'version' };
  const word = root.positional[0];
  const args = superviseArgs(root.given);
  if (!word) {
    if (!agent) throw new UsageError(`missing the agent command: ${PROGRAM} [options] -- <command> [args...]`);
    if (!agent[0]) throw new UsageError('missing the agent command after --');
    return { kind: 'supervise', args, agent };
  }
  const rest = own.slice(word.index + 1);
  const names = table.map((s) => s.name);
  if (word.value === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { kind: 'help', text: rootHelp(table, width) };
    const spec = table.find((s) => s.name === topic);
    if (!spec) throw new UsageError(`no subcommand '${topic}'; the subcommands are ${names.join(', ')}`);
    return { kind: 'help', text: subcommandHelp(spec, width) };
  }
  const spec = table.find((s) => s.name === word.value);
  if (!spec) throw unknownWord(word.value, rest, names, agent !== undefined);
  const sub = read(rest, flagsOf(spec), false);
  if (sub.given.has(HELP)) return { kind: 'help', text: subcommandHelp(spec, width) };
  const extra = sub.positional[0];
  if (extra && !spec.args) throw new UsageError(`unexpected '${extra.value}' after '${spec.name}': it takes no arguments`);
  const missing = spec.flags?.find((f) => f.required && !sub.given.has(f));
  if (missing) throw new UsageError(`required option '--${missing.name} ${missing.arg}' not specified`);
  if (agent) throw new UsageError(`'${spec.name}' takes no agent command after --`);
  if (!spec.allOptions) {
    for (const key of Object.keys(args.flags) as (keyof Config)[]) {
      if (!GLOBAL_KEYS.has(key) && !spec.accepts?.includes(key)) throw new UsageError(`${flagOf(key)} does not apply to '${spec.name}'`);
    }
  }
  // The subcommand's own --state-dir or --config over the root's.
  const subArgs = superviseArgs(sub.given);
  const merged: SuperviseArgs = { flags: { ...args.flags, ...subArgs.flags } };
  const configFile = subArgs.configFile ?? args.configFile;
  if (configFile !== undefined) merged.configFile = configFile;
  return { kind: 'subcommand', spec, args: merged, opts: ownOpts(spec, sub.given), positional: sub.positional.map((p) => p.value) };
}

const term = (f: Flag) => `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;

/** Rows of a help section, the second column wrapped to `width` under itself. */
export function columns(rows: [string, string][], width: number): string[] {
  const left = Math.min(Math.max(...rows.map(([t]) => t.length)), 32) + 4;
  const room = Math.max(width - left, 30);
  return rows.map(([t, text]) => {
    const lines: string[] = [];
    let line = '';
    for (const w of text.split(' ')) {
      if (line && line.length + 1 + w.length > room) {
        lines.push(line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    lines.push(line);
    const head = `  ${t}`;
    const first = head.length + 2 > left ? [head, `${' '.repeat(left)}${lines[0]}`] : [`${head.padEnd(left)}${lines[0]}`];
    return [...first, ...lines.slice(1).map((l) => `${' '.repeat(left)}${l}`)].join('\n');
  });
}

export function rootHelp(table: readonly Subcommand[], width: number): string {
  return [
    `Usage: ${PROGRAM} [options] -- <command> [args...]`,
    `       ${PROGRAM} <subcommand> [options]    (${PROGRAM} help <subcommand>)`,
    '',
    'Supervise a long-running Node.js agent: memory watch, heap capture, OOM restart, whole-tree cleanup.',
    '',
    'Options:',
    ...columns(ROOT_FLAGS().map((f) => [term(f), f.description]), width),
    '',
    'Subcommands:',
    ...columns([...table.map((s): [string, string] => [s.name, s.description]), ['help [subcommand]', 'display help for a subcommand']], width),
  ].join('\n');
}

export function subcommandHelp(spec: Subcommand, width: number): string {
  return [
    `Usage: ${PROGRAM} ${spec.name} [options]${spec.args ? ` ${spec.args}` : ''}`,
    '',
    spec.description,
    '',
    'Options:',
    ...columns(flagsOf(spec).map((f) => [term(f), f.description]), width),
  ].join('\n');
}
