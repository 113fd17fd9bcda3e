// One validated Config from flags > environment (CFN_SUPERVISE_*, then the seeds' variables) > config file >
// defaults. Every option is one row of OPTIONS with one name (the flag's, in kebab case) used by the flag, the
// environment variable, the config file and PATCH /config, and one key that carries its unit (`cooldownS`,
// `intervalMs`), so the CLI, the env names, the file keys, the validation and `cfn-supervise config` can never
// disagree about what exists or in what unit.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UsageError } from '../common/errors.js';
import { redactCommand, redactUrl } from '../common/redact.js';
import { memoryBound, type MemoryBound } from '../platform/sysmem.js';
import { defaultHeapLimit, totalMemoryMb } from './environment.js';
import { userNodeOptions } from './node-options.js';
import { LIST_SEPARATOR, OPTIONS, ROLE_KEYS, envName, flagOf, option, optionNamed, parseValue, type Config, type OptionSpec, type RoleKey, type RoleRule, type Source } from './options.js';

export * from './options.js';

/** Each list must rise strictly where its values are set (0 = unset): levels are ordered. */
const ORDERED: (keyof Config)[][] = [
  ['warningMb', 'criticalMb', 'hardMb'],
  ['treeWarningMb', 'treeCriticalMb', 'treeHardMb'],
  ['heapWarning', 'heapCritical', 'heapImminent'],
  ['connInfo', 'connWarning', 'connCritical'],
  ['offheapWarningMbPerMin', 'offheapCriticalMbPerMin'],
];

export interface ResolvedConfig {
  config: Config;
  sources: Record<keyof Config, { source: Source; from?: string }>;
}

export interface ConfigInputs {
  /** Raw flag values given on the command line, by Config key. */
  flags: Partial<Record<keyof Config, string>>;
  env: NodeJS.ProcessEnv;
  /** Path of the config file, if one was named (by --config or CFN_SUPERVISE_CONFIG). */
  configFile?: string;
  cwd: string;
  /** The cgroup limit the tree lives under; read from the supervisor's own cgroup when not given. */
  bound?: MemoryBound | null;
}

/**
 * In a cgroup whose limit is below the machine's memory (a container of 2 GB on a 64 GB host), the defaults
 * made for a machine would let the kernel's OOM killer end the agent before any rule acts: each of these
 * becomes its fraction of the limit where that is lower (tree-hard, 0 = none, always).
 */
export const BOUND_FRACTIONS: readonly (readonly [keyof Config, number])[] = [
  ['heapLimitMb', 0.5],
  ['warningMb', 0.5],
  ['criticalMb', 0.7],
  ['hardMb', 0.9],
  ['treeWarningMb', 0.7],
  ['treeCriticalMb', 0.85],
  ['treeHardMb', 0.95],
  ['minFreeMb', 0.25],
];

function boundDefaults(config: Config, sources: ResolvedConfig['sources'], bound: MemoryBound): void {
  for (const [key, fraction] of BOUND_FRACTIONS) {
    if (sources[key].source !== 'default') continue;
    const def = config[key] as number;
    const value = Math.max(1, Math.round(bound.totalMb * fraction));
    if (def !== 0 && value >= def) continue;
    (config as unknown as Record<string, number>)[key] = value;
    sources[key] = { source: 'default', from: `${Math.round(fraction * 100)}% of ${bound.source}` };
  }
}

const inOrder = (config: Config, keys: (keyof Config)[]) => {
  const set = keys.map((k) => config[k] as number).filter((v) => v > 0);
  return set.every((v, i) => i === 0 || v > set[i - 1]!);
};

/**
 * `--hard 300` alone must not fail on the default critical of 2048: where a default breaks the order of a
 * list whose other levels the user set, the defaults of that list follow the first value the user set,
 * keeping their default proportions. Unset (0) levels stay unset.
 */
function fitDefaults(config: Config, sources: ResolvedConfig['sources']): void {
  for (const keys of ORDERED) {
    if (inOrder(config, keys)) continue;
    const anchor = keys.find((k) => sources[k].source !== 'default');
    if (!anchor) continue;
    const factor = (config[anchor] as number) / (option(anchor).default as number);
    for (const k of keys) {
      const def = option(k).default as number;
      if (sources[k].source !== 'default' || def === 0) continue;
      const scaled = def * factor;
      const value = def < 1 ? Math.min(1, Math.round(scaled * 1000) / 1000) : Math.max(1, Math.round(scaled));
      (config as unknown as Record<string, number>)[k] = value;
      sources[k] = { source: 'default', from: `scaled to ${flagOf(anchor)}` };
    }
  }
}

function checkOrder(config: Config): void {
  for (const keys of ORDERED) {
    const set = keys.filter((k) => (config[k] as number) > 0);
    for (let i = 1; i < set.length; i++) {
      const [lo, hi] = [set[i - 1]!, set[i]!];
      if ((config[hi] as number) <= (config[lo] as number)) {
        throw new UsageError(`${flagOf(hi)} (${config[hi] as number}) must be above ${flagOf(lo)} (${config[lo] as number})`);
      }
    }
  }
}

function checkConsistency(config: Config, bound: MemoryBound | undefined): void {
  checkOrder(config);
  // Each role's thresholds, merged over the global ones, must rise too.
  for (const rule of config.roles) {
    try {
      checkOrder({ ...config, ...rule.set });
    } catch (err) {
      throw new UsageError(`roles.${rule.pattern}: ${(err as Error).message}`);
    }
  }
  if (config.backoffMaxMs < config.backoffMs) {
    throw new UsageError(`--backoff-max (${config.backoffMaxMs} ms) is below --backoff (${config.backoffMs} ms)`);
  }
  const total = bound?.totalMb ?? totalMemoryMb();
  if (total !== undefined && config.minFreeMb > total) {
    const whose = bound ? `its cgroup's limit (${bound.source})` : `this machine's total memory (${total} MB)`;
    throw new UsageError(`--min-free (${config.minFreeMb} MB) is above ${whose}: the agent would never start`);
  }
}

interface FileConfig {
  values: Record<string, string>;
  roles: RoleRule[];
}

/** `roles:` of a config file: a mapping of role patterns to the per-process options they set. */
function readRoles(file: string, data: unknown): RoleRule[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`config file ${file}: roles must map role patterns to options`);
  return Object.entries(data).map(([pattern, options]) => {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new UsageError(`config file ${file}: roles.${pattern} must be a mapping of options`);
    const set: Partial<Record<RoleKey, number>> = {};
    for (const [name, value] of Object.entries(options as Record<string, unknown>)) {
      const opt = optionNamed(name);
      if (!opt || !(ROLE_KEYS as readonly string[]).includes(opt.key)) {
        throw new UsageError(`config file ${file}: roles.${pattern}: '${name}' cannot be set per role (these can: ${ROLE_KEYS.map((k) => option(k).name).join(', ')})`);
      }
      set[opt.key as RoleKey] = parseValue(opt, String(value), `${file}: roles.${pattern}.${opt.name}`) as number;
    }
    return { pattern, set };
  });
}

function readConfigFile(file: string): FileConfig {
  let body: string;
  try {
    body = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    // yaml is heavy to load (benchmarks/results/design-figures.md): only a YAML file pays for it, not every
    // supervisor and subcommand.
    data = /\.json$/i.test(file) ? JSON.parse(body) : (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(body);
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  data ??= {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`config file ${file} must be a mapping of option names to values`);
  const out: Record<string, string> = {};
  let roles: RoleRule[] = [];
  for (const [name, value] of Object.entries(data)) {
    if (name === 'roles') {
      roles = readRoles(file, value);
      continue;
    }
    const opt = optionNamed(name);
    if (!opt) throw new UsageError(`config file ${file}: unknown option '${name}'`);
    if (opt.list && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      out[opt.key] = value.join(LIST_SEPARATOR);
      continue;
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw new UsageError(`config file ${file}: ${opt.name}: expected a single value`);
    out[opt.key] = String(value);
  }
  return { values: out, roles };
}


/** Our own name first, then the seeds' variables; an alias's value is read in its own unit. */
function fromEnv(opt: OptionSpec, env: NodeJS.ProcessEnv): { value: Config[keyof Config]; from: string } | undefined {
  const own = env[envName(opt.name)];
  if (own !== undefined && own !== '') return { value: parseValue(opt, own, envName(opt.name)), from: envName(opt.name) };
  for (const alias of opt.aliases ?? []) {
    const raw = env[alias.env];
    if (raw === undefined || raw === '') continue;
    let translated: string;
    try {
      translated = alias.translate ? alias.translate(raw) : raw;
    } catch (err) {
      throw new UsageError(`${alias.env}: ${(err as Error).message}`);
    }
    return { value: parseValue(opt, translated, alias.env), from: alias.env };
  }
  return undefined;
}

export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const fromFile = inputs.configFile ? readConfigFile(path.resolve(inputs.cwd, inputs.configFile)) : undefined;
  const file = fromFile?.values ?? {};
  const config = {} as Record<keyof Config, unknown>;
  const sources = {} as ResolvedConfig['sources'];
  for (const opt of OPTIONS) {
    const flagRaw = inputs.flags[opt.key];
    const env = flagRaw === undefined ? fromEnv(opt, inputs.env) : undefined;
    if (flagRaw !== undefined) {
      config[opt.key] = parseValue(opt, flagRaw, `--${opt.name}`);
      sources[opt.key] = { source: 'flag' };
    } else if (env) {
      config[opt.key] = env.value;
      sources[opt.key] = { source: 'env', from: env.from };
    } else if (file[opt.key] !== undefined) {
      config[opt.key] = parseValue(opt, file[opt.key]!, `${inputs.configFile}: ${opt.name}`);
      sources[opt.key] = { source: 'file', from: inputs.configFile };
    } else {
      config[opt.key] = opt.default;
      sources[opt.key] = { source: 'default' };
    }
  }
  const result = config as unknown as Config;
  if (sources.heapLimitMb.source === 'default') {
    // A limit the user already gave node is kept: supervising must not halve (or raise) what they chose.
    const own = defaultHeapLimit(userNodeOptions(inputs.env));
    if (own !== undefined) {
      result.heapLimitMb = own;
      sources.heapLimitMb = { source: 'env', from: 'NODE_OPTIONS' };
    }
  }
  result.stateDir = path.resolve(inputs.cwd, result.stateDir);
  const bound = inputs.bound === undefined ? memoryBound() : (inputs.bound ?? undefined);
  if (bound) boundDefaults(result, sources, bound);
  fitDefaults(result, sources);
  result.roles = fromFile?.roles ?? [];
  checkConsistency(result, bound);
  result.capturesDir = result.capturesDir ? path.resolve(inputs.cwd, result.capturesDir) : path.join(result.stateDir, 'captures');
  return { config: result, sources };
}

/** Validates a run-time change as a whole (each value, then the ordering of levels) and returns the new config. */
export function patchConfig(config: Config, patch: Record<string, unknown>): Config {
  const next = { ...config } as Record<keyof Config, unknown>;
  for (const [name, value] of Object.entries(patch)) {
    const opt = optionNamed(name);
    if (!opt) throw new UsageError(`unknown option '${name}'`);
    if (!opt.runtime) throw new UsageError(`${opt.name} cannot change while the supervisor runs`);
    if (typeof value !== 'number' && typeof value !== 'string') throw new UsageError(`${opt.name}: expected a number or a string`);
    next[opt.key] = parseValue(opt, String(value), opt.name);
  }
  checkOrder(next as unknown as Config);
  return next as unknown as Config;
}

/** The config with the secrets a webhook URL carries masked: what may be logged, printed or served. */
export function shareable(config: Config): Config {
  return { ...config, alertWebhook: config.alertWebhook.map(redactUrl), alertExec: config.alertExec.map(redactCommand) };
}

/** The config by option name, as `config --json` prints it and GET /config serves it. */
export function configByName(config: Config): Record<string, unknown> {
  const c = shareable(config);
  const roles = config.roles.map((r) => [r.pattern, Object.fromEntries(Object.entries(r.set).map(([k, v]) => [option(k as keyof Config).name, v]))]);
  return { ...Object.fromEntries(OPTIONS.map((o) => [o.name, c[o.key]])), ...(roles.length ? { roles: Object.fromEntries(roles) } : {}) };
}

/** Where each option's value came from, by option name: `{source: 'env', from: 'CFN_SUPERVISE_INTERVAL'}`. */
export function sourcesByName({ sources }: ResolvedConfig): Record<string, { source: Source; from?: string }> {
  return Object.fromEntries(OPTIONS.map((o) => [o.name, sources[o.key]]));
}

export function describeConfig({ config: raw, sources }: ResolvedConfig): string {
  const config = shareable(raw);
  const width = Math.max(...OPTIONS.map((o) => o.name.length));
  const lines = OPTIONS.map((o) => {
    const s = sources[o.key];
    const origin = s.from ? `${s.source}, ${s.from}` : s.source;
    return `${o.name.padEnd(width)}  ${String(config[o.key]).padEnd(16)}  (${origin})`;
  });
  for (const r of config.roles) {
    const set = Object.entries(r.set).map(([k, v]) => `${option(k as keyof Config).name} ${v}`);
    lines.push(`${'role'.padEnd(width)}  ${r.pattern.padEnd(16)}  ${set.join(', ')}`);
  }
  return lines.join('\n');
}
