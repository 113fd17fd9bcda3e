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
import {
  parseBoolean,
  parseBytes,
  parseChoice,
  parseCount,
  parseFraction,
  parseMegabytes,
  parseMillis,
  parseMinutes,
  parseRate,
  parseSeconds,
} from '../common/units.js';
import { defaultHeapLimit, totalMemoryMb, userNodeOptions } from './environment.js';

export const RESTART_MODES = ['on-oom', 'on-failure', 'always', 'never'] as const;
export type RestartMode = (typeof RESTART_MODES)[number];
export const ORPHAN_MODES = ['kill', 'keep'] as const;
export type OrphanMode = (typeof ORPHAN_MODES)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const ALERT_LEVELS = ['info', 'warning', 'critical', 'imminent', 'hard'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

export interface Config {
  heapLimitMb: number;
  stateDir: string;
  restart: RestartMode;
  backoffMs: number;
  backoffMaxMs: number;
  minUptimeMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  killTimeoutMs: number;
  orphans: OrphanMode;
  minFreeMb: number;
  intervalMs: number;
  watch: boolean;
  probe: boolean;
  /** Open each node process's own inspector (127.0.0.1, a free port) for DevTools or an editor. */
  inspect: boolean;
  samplingIntervalBytes: number;
  quiet: boolean;
  logLevel: LogLevel;
  warningMb: number;
  criticalMb: number;
  hardMb: number;
  treeWarningMb: number;
  treeCriticalMb: number;
  treeHardMb: number;
  heapWarning: number;
  heapCritical: number;
  heapImminent: number;
  fdWarning: number;
  connInfo: number;
  connWarning: number;
  connCritical: number;
  trendWindowMs: number;
  trendMinMbPerMin: number;
  trendHorizonMin: number;
  cooldownS: number;
  maxCaptures: number;
  capturesDir: string;
  capturesKeep: number;
  capturesMaxMb: number;
  controlPort: number;
  metricsPort: number;
  metricsHost: string;
  alertWebhook: string[];
  alertExec: string[];
  alertMinLevel: AlertLevel;
  /** Per-process thresholds by role (config file `roles:`), first match first. */
  roles: RoleRule[];
}

/** Options a `roles:` entry may set for the processes whose role it matches. */
export const ROLE_KEYS = [
  'warningMb', 'criticalMb', 'hardMb', 'heapWarning', 'heapCritical', 'heapImminent', 'fdWarning', 'connInfo', 'connWarning', 'connCritical',
  'trendMinMbPerMin', 'trendHorizonMin',
] as const satisfies readonly (keyof Config)[];
export type RoleKey = (typeof ROLE_KEYS)[number];

export interface RoleRule {
  /** A role (`agent`, `node:server.js`, `sh`) or a pattern with `*` (`node:*-worker.js`). */
  pattern: string;
  set: Partial<Pick<Config, RoleKey>>;
}

export type Source = 'flag' | 'env' | 'file' | 'default';

/** An environment variable of the scripts cfn-supervise replaces, with its own meaning and unit. */
interface Alias {
  env: string;
  /** Turns the variable's value into the option's raw form; defaults to the option's own parser. */
  translate?: (raw: string) => string;
}

interface OptionSpec<K extends keyof Config = keyof Config> {
  key: K;
  /** The one name of the option: the long flag, the config-file and PATCH key (kebab or camel case), the env suffix. */
  name: string;
  /** Commander's argument syntax after the flag, e.g. '<MB>'; absent for switches. */
  arg?: string;
  /** A switch that turns a default-on option off (`--no-probe`). */
  negate?: boolean;
  /** Repeatable: each flag adds one value; the environment gives one, a config file a list. */
  list?: boolean;
  description: string;
  parse: (raw: string) => Config[K];
  default: Config[K];
  /** What the root help shows as the default, where the bare value would mislead. */
  shownDefault?: string;
  /** Inclusive bounds for numeric options, so a typo cannot make the supervisor spin or never act. */
  min?: number;
  max?: number;
  aliases?: Alias[];
  /** May change while the supervisor runs (PATCH /config). */
  runtime?: boolean;
}

const spec = <K extends keyof Config>(s: OptionSpec<K>): OptionSpec => s as unknown as OptionSpec;
const text = (raw: string) => raw;
/** A list option's raw form: one value per line (flags repeated, a file's array). */
export const LIST_SEPARATOR = '\n';
const values = (raw: string) => raw.split(LIST_SEPARATOR).map((v) => v.trim()).filter(Boolean);
function webhooks(raw: string): string[] {
  return values(raw).map((v) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new UsageError(`expected an http(s) URL, got '${v.replace(/\/\/[^@/]*@/, '//***@')}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`expected an http(s) URL, got a ${url.protocol} one`);
    return v;
  });
}
const seconds = (raw: string) => `${raw}s`;
const negated = (raw: string) => String(!parseBoolean(raw));
const debugOn = (raw: string) => (parseBoolean(raw) ? 'debug' : 'info');

export const OPTIONS: readonly OptionSpec[] = [
  spec({ key: 'heapLimitMb', name: 'heap-limit', arg: '<MB>', description: 'V8 old-space limit of every node process (--max-old-space-size)', shownDefault: "the one in your NODE_OPTIONS, else 4096", parse: parseMegabytes, default: 4096, min: 16, max: 1_048_576, aliases: [{ env: 'CLAUDE_MEMORY_LIMIT' }] }),
  spec({ key: 'stateDir', name: 'state-dir', arg: '<dir>', description: 'folder for logs, runs, reports, captures and the control socket', parse: text, default: '.cfn-supervise' }),
  spec({ key: 'restart', name: 'restart', arg: '<mode>', description: `when to run the agent again: ${RESTART_MODES.join('|')} (on-oom: heap exhaustion and memory-rule terminations)`, parse: parseChoice(RESTART_MODES), default: 'on-oom' }),
  spec({ key: 'backoffMs', name: 'backoff', arg: '<ms>', description: 'first restart delay, doubled on each quick failure', parse: parseMillis, default: 1000, min: 0, max: 3_600_000 }),
  spec({ key: 'backoffMaxMs', name: 'backoff-max', arg: '<ms>', description: 'cap of the restart delay', parse: parseMillis, default: 30_000, min: 0, max: 86_400_000 }),
  spec({ key: 'minUptimeMs', name: 'min-uptime', arg: '<ms>', description: 'a run this long counts as stable and resets the backoff', parse: parseMillis, default: 30_000, min: 0, max: 86_400_000 }),
  spec({ key: 'maxRestarts', name: 'max-restarts', arg: '<n>', description: 'give up after this many restarts within --restart-window', parse: parseCount, default: 5, min: 0, max: 1_000_000 }),
  spec({ key: 'restartWindowMs', name: 'restart-window', arg: '<ms>', description: 'window of the crash-loop cut-off', parse: parseMillis, default: 300_000, min: 1, max: 604_800_000 }),
  spec({ key: 'killTimeoutMs', name: 'kill-timeout', arg: '<ms>', description: 'grace between the stop signal and SIGKILL', parse: parseMillis, default: 10_000, min: 0, max: 3_600_000 }),
  spec({ key: 'orphans', name: 'orphans', arg: '<mode>', description: `what to do with a run's leftover processes: ${ORPHAN_MODES.join('|')}`, parse: parseChoice(ORPHAN_MODES), default: 'kill' }),
  spec({ key: 'minFreeMb', name: 'min-free', arg: '<MB>', description: 'wait before (re)starting while available memory is below this', parse: parseMegabytes, default: 1024, min: 0, max: 1_048_576 }),
  spec({ key: 'intervalMs', name: 'interval', arg: '<ms>', description: 'sampling period', parse: parseMillis, default: 1000, min: 50, max: 3_600_000, runtime: true, aliases: [{ env: 'CLAUDE_PM_MEMORY_CHECK_INTERVAL', translate: seconds }] }),
  spec({ key: 'watch', name: 'watch', negate: true, description: 'no memory watch: launch, restart and whole-tree cleanup only', parse: parseBoolean, default: true, aliases: [{ env: 'CLAUDE_MEMORY_MONITORING' }, { env: 'CLAUDE_PM_DISABLE_MEMORY_MONITOR', translate: negated }] }),
  spec({ key: 'probe', name: 'probe', negate: true, description: 'no probe in the node processes: RSS-only supervision (the inspector-port path still reaches them on demand)', parse: parseBoolean, default: true }),
  spec({ key: 'inspect', name: 'inspect', description: "open every node process's own inspector on 127.0.0.1 (a free port) for DevTools; `status` shows the URLs", parse: parseBoolean, default: false }),
  spec({ key: 'samplingIntervalBytes', name: 'sampling-interval', arg: '<bytes>', description: 'heap sampling interval once sampling runs, 0 = never sample', parse: parseBytes, default: 524_288, min: 0, max: 1_073_741_824 }),
  spec({ key: 'quiet', name: 'quiet', description: 'no notices on stderr', parse: parseBoolean, default: false }),
  spec({ key: 'logLevel', name: 'log-level', arg: '<level>', description: `supervisor.log detail: ${LOG_LEVELS.join('|')}`, parse: parseChoice(LOG_LEVELS), default: 'info', aliases: [{ env: 'CLAUDE_MEMORY_LOG_LEVEL' }, { env: 'CLAUDE_MEMORY_DEBUG', translate: debugOn }] }),
  spec({ key: 'warningMb', name: 'warning', arg: '<MB>', description: 'per-process RSS warning', parse: parseMegabytes, default: 1024, min: 1, max: 1_048_576, runtime: true, aliases: [{ env: 'CLAUDE_PM_MEMORY_WARNING_MB' }] }),
  spec({ key: 'criticalMb', name: 'critical', arg: '<MB>', description: 'per-process RSS critical: capture and GC', parse: parseMegabytes, default: 2048, min: 1, max: 1_048_576, runtime: true, aliases: [{ env: 'CLAUDE_PM_MEMORY_CRITICAL_MB' }] }),
  spec({ key: 'hardMb', name: 'hard', arg: '<MB>', description: 'per-process RSS hard limit: capture and terminate', parse: parseMegabytes, default: 4096, min: 1, max: 1_048_576, runtime: true, aliases: [{ env: 'CLAUDE_PM_MEMORY_MAX_MB' }] }),
  spec({ key: 'treeWarningMb', name: 'tree-warning', arg: '<MB>', description: 'whole-tree RSS warning', parse: parseMegabytes, default: 6144, min: 1, max: 1_048_576, runtime: true, aliases: [{ env: 'CLAUDE_MEMORY_ALERT_THRESHOLD' }] }),
  spec({ key: 'treeCriticalMb', name: 'tree-critical', arg: '<MB>', description: 'whole-tree RSS critical: capture and clean up', parse: parseMegabytes, default: 8192, min: 1, max: 1_048_576, runtime: true }),
  spec({ key: 'treeHardMb', name: 'tree-hard', arg: '<MB>', description: 'whole-tree RSS hard limit: capture and restart (0 = none)', parse: parseMegabytes, default: 0, min: 0, max: 1_048_576, runtime: true }),
  spec({ key: 'heapWarning', name: 'heap-warning', arg: '<fraction>', description: 'heap used / old-space limit: warning', parse: parseFraction, default: 0.7, runtime: true }),
  spec({ key: 'heapCritical', name: 'heap-critical', arg: '<fraction>', description: 'heap used / old-space limit: capture and GC', parse: parseFraction, default: 0.85, runtime: true }),
  spec({ key: 'heapImminent', name: 'heap-imminent', arg: '<fraction>', description: 'heap used / old-space limit: OOM imminent, capture now', parse: parseFraction, default: 0.95, runtime: true }),
  spec({ key: 'fdWarning', name: 'fd-warning', arg: '<n>', description: 'open file descriptors above this warn', parse: parseCount, default: 1000, min: 1, max: 10_000_000, runtime: true }),
  spec({ key: 'connInfo', name: 'conn-info', arg: '<n>', description: 'established TCP connections: info', parse: parseCount, default: 25, min: 1, max: 10_000_000, runtime: true }),
  spec({ key: 'connWarning', name: 'conn-warning', arg: '<n>', description: 'established TCP connections: warning', parse: parseCount, default: 50, min: 1, max: 10_000_000, runtime: true }),
  spec({ key: 'connCritical', name: 'conn-critical', arg: '<n>', description: 'established TCP connections: critical', parse: parseCount, default: 100, min: 1, max: 10_000_000, runtime: true }),
  spec({ key: 'trendWindowMs', name: 'trend-window', arg: '<ms>', description: 'history the leak trend is fitted over', parse: parseMillis, default: 300_000, min: 1000, max: 86_400_000, runtime: true }),
  spec({ key: 'trendMinMbPerMin', name: 'trend-min-rate', arg: '<MB/min>', description: 'heap floor growth that raises the trend alert', parse: parseRate, default: 2, min: 0.001, max: 1_000_000, runtime: true }),
  spec({ key: 'trendHorizonMin', name: 'trend-horizon', arg: '<min>', description: 'trend alert only when the forecast OOM is this close', parse: parseMinutes, default: 240, min: 1, max: 525_600, runtime: true }),
  spec({ key: 'cooldownS', name: 'cooldown', arg: '<s>', description: 'at most one automatic capture, GC or cleanup per process per this long (seconds: 300, 5m)', parse: parseSeconds, default: 300, min: 0, max: 86_400, runtime: true }),
  spec({ key: 'maxCaptures', name: 'max-captures', arg: '<n>', description: 'captures per run, manual ones included', parse: parseCount, default: 10, min: 0, max: 10_000 }),
  spec({ key: 'capturesDir', name: 'captures-dir', arg: '<dir>', description: 'where captures go (default <state-dir>/captures)', parse: text, default: '', aliases: [{ env: 'CLAUDE_MEMORY_PROFILE_DIR' }] }),
  spec({ key: 'capturesKeep', name: 'captures-keep', arg: '<n>', description: 'captures kept on disk, oldest deleted first', parse: parseCount, default: 50, min: 1, max: 100_000 }),
  spec({ key: 'capturesMaxMb', name: 'captures-max', arg: '<MB>', description: 'megabytes of captures kept on disk', parse: parseMegabytes, default: 4096, min: 1, max: 1_048_576 }),
  spec({ key: 'controlPort', name: 'control-port', arg: '<n>', description: 'also serve the control API on 127.0.0.1:<n>, behind the token in <state-dir>/control.token (0 = off)', parse: parseCount, default: 0, min: 0, max: 65_535 }),
  spec({ key: 'metricsPort', name: 'metrics-port', arg: '<n>', description: 'serve /metrics, /healthz and /readyz on <n> (0 = off)', parse: parseCount, default: 0, min: 0, max: 65_535 }),
  spec({ key: 'metricsHost', name: 'metrics-host', arg: '<host>', description: 'address the metrics port listens on', parse: text, default: '127.0.0.1' }),
  spec({ key: 'alertWebhook', name: 'alert-webhook', arg: '<url>', list: true, description: 'POST each alert as JSON (with a Slack/Discord text field) to this URL; repeatable', parse: webhooks, default: [] }),
  spec({ key: 'alertExec', name: 'alert-exec', arg: '<command>', list: true, description: 'run this shell command with each alert as JSON on stdin; repeatable', parse: values, default: [] }),
  spec({ key: 'alertMinLevel', name: 'alert-min-level', arg: '<level>', description: `lowest level sent to the alert channels: ${ALERT_LEVELS.join('|')}`, parse: parseChoice(ALERT_LEVELS), default: 'warning' }),
];

/** Each list must rise strictly where its values are set (0 = unset): levels are ordered. */
const ORDERED: (keyof Config)[][] = [
  ['warningMb', 'criticalMb', 'hardMb'],
  ['treeWarningMb', 'treeCriticalMb', 'treeHardMb'],
  ['heapWarning', 'heapCritical', 'heapImminent'],
  ['connInfo', 'connWarning', 'connCritical'],
];

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envName = (name: string) => `CFN_SUPERVISE_${name.replace(/-/g, '_').toUpperCase()}`;
const option = (key: keyof Config): OptionSpec => OPTIONS.find((o) => o.key === key)!;
/** The option a file key, PATCH key or flag name names: its kebab name or the camel case of it. */
export const optionNamed = (name: string): OptionSpec | undefined => OPTIONS.find((o) => o.name === name || camel(o.name) === name);
export const flagOf = (key: keyof Config) => `--${option(key).name}`;

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
        throw new UsageError(`${flagOf(hi)} (${config[hi]}) must be above ${flagOf(lo)} (${config[lo]})`);
      }
    }
  }
}

function checkConsistency(config: Config): void {
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
  const total = totalMemoryMb();
  if (total !== undefined && config.minFreeMb > total) {
    throw new UsageError(`--min-free (${config.minFreeMb} MB) is above this machine's total memory (${total} MB): the agent would never start`);
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
    for (const [name, value] of Object.entries(options)) {
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
    // yaml costs ~9 MB and 65 ms to load: only a YAML file pays for it, not every supervisor and subcommand.
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

function parseValue(opt: OptionSpec, raw: string, where: string): Config[keyof Config] {
  let value: Config[keyof Config];
  try {
    value = opt.parse(raw);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
  if (typeof value === 'number' && ((opt.min !== undefined && value < opt.min) || (opt.max !== undefined && value > opt.max))) {
    throw new UsageError(`${where}: ${raw} is out of range (${opt.min ?? '-∞'} to ${opt.max ?? '∞'})`);
  }
  return value;
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
  fitDefaults(result, sources);
  result.roles = fromFile?.roles ?? [];
  checkConsistency(result);
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
