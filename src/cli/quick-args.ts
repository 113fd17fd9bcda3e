// The two command lines read most often, read with node's own parseArgs: `cfn-supervise [options] -- <command>`,
// the main job, and `cfn-supervise status` (with restart and top, the subcommands that need only a state dir).
// Commander costs ~15 ms to load and build on this 2-core VM: before the agent's spawn, and most of a `status`'s
// own time (measured in benchmarks/startup.mjs). Only a command line that parses strictly here takes this path;
// anything else (an unknown or misspelt option, a missing value, another subcommand, --help) goes to commander, so
// every message and exit code a person can see is still commander's.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LIST_SEPARATOR, OPTIONS, resolveConfig, writtenFlag, type Config, type ResolvedConfig } from '../config/config.js';

/** The supervisor options the user gave, as raw strings for resolveConfig (as commander's reading gives them). */
export interface SuperviseArgs {
  flags: Partial<Record<keyof Config, string>>;
  configFile?: string;
}

let parseOptions: NonNullable<ParseArgsConfig['options']> | undefined;

/** parseArgs names an option without its dashes. */
const flagName = (opt: (typeof OPTIONS)[number]) => writtenFlag(opt).slice(2);

function options(): NonNullable<ParseArgsConfig['options']> {
  if (!parseOptions) {
    parseOptions = { config: { type: 'string' } };
    for (const opt of OPTIONS) parseOptions[flagName(opt)] = { type: opt.arg ? 'string' : 'boolean', multiple: opt.list === true };
  }
  return parseOptions;
}

/** `own` is the command line before `--`; undefined when commander must read it. */
export function quickSuperviseArgs(own: string[]): SuperviseArgs | undefined {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: own, options: options(), strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  const flags: SuperviseArgs['flags'] = {};
  for (const opt of OPTIONS) {
    const value = values[flagName(opt)];
    if (value === undefined) continue;
    if (Array.isArray(value)) flags[opt.key] = value.join(LIST_SEPARATOR);
    else if (opt.negate) flags[opt.key] = 'false';
    else flags[opt.key] = String(value);
  }
  const configFile = values.config;
  return typeof configFile === 'string' ? { flags, configFile } : { flags };
}

/** What a subcommand's own options (the state dir aside) may be, for the subcommands read here. */
const CONTROL_OPTIONS = { status: ['json'], restart: ['json'], top: [] } as const satisfies Record<string, readonly string[]>;
export type QuickSubcommand = keyof typeof CONTROL_OPTIONS;

export interface ControlArgs extends SuperviseArgs {
  subcommand: QuickSubcommand;
  json: boolean;
}

const isQuickSubcommand = (word: string): word is QuickSubcommand => Object.hasOwn(CONTROL_OPTIONS, word);

/**
 * `[--state-dir d] [--config f] <status|restart|top> [--state-dir d] [--config f] [--json]`, as commander reads it
 * (the subcommand's own --state-dir over the root's); undefined when commander must read it.
 */
export function quickControlArgs(argv: string[]): ControlArgs | undefined {
  let tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>;
  try {
    ({ tokens } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: true, tokens: true }));
  } catch {
    return undefined;
  }
  const words = tokens.filter((t) => t.kind === 'positional');
  const word = words[0]?.value;
  if (words.length !== 1 || word === undefined || !isQuickSubcommand(word) || tokens.some((t) => t.kind === 'option-terminator')) return undefined;
  const at = words[0]!.index;
  const args: ControlArgs = { subcommand: word, json: false, flags: {} };
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === 'json') {
      if (t.index < at || !(CONTROL_OPTIONS[word] as readonly string[]).includes('json')) return undefined;
      args.json = true;
    } else if (t.name === 'config') args.configFile = t.value!;
    else args.flags.stateDir = t.value!;
  }
  return args;
}

/** The configuration a command line's options give, with the environment and the config file it names. */
export function resolveArgs({ flags, configFile }: SuperviseArgs): ResolvedConfig {
  return resolveConfig({ flags, env: process.env, configFile: configFile ?? process.env.CFN_SUPERVISE_CONFIG, cwd: process.cwd() });
}
