// `cfn-supervise [options] -- <command>`, the main job, read with node's own parseArgs: commander costs ~15 ms
// to load and build on this 2-core VM, all of it before the agent can be spawned (measured in
// benchmarks/startup.mjs). Only a command line that parses strictly here takes this path; anything else (an
// unknown or misspelt option, a missing value, a subcommand, --help) goes to commander, so every message and exit
// code a person can see is still commander's.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LIST_SEPARATOR, OPTIONS, writtenFlag, type Config } from '../config/config.js';

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
