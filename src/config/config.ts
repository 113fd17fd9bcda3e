// One validated Config from flags > environment (CFN_SUPERVISE_*, then the seeds' aliases) > config file >
// defaults. Every option is one row of OPTIONS, so the CLI, the env names, the file keys, the validation and
// `cfn-supervise config` can never disagree about what exists.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../common/errors.js';
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

export const RESTART_MODES = ['on-oom', 'on-failure', 'always', 'never'] as const;
export type RestartMode = (typeof RESTART_MODES)[number];
export const ORPHAN_MODES = ['kill', 'keep'] as const;
export type OrphanMode = (typeof ORPHAN_MODES)[number];

export interface Config {
  heapLimit: number;
  stateDir: string;
  restart: RestartMode;
  backoff: number;
  backoffMax: number;
  minUptime: number;
  maxRestarts: number;
  restartWindow: number;
  killTimeout: number;
  orphans: OrphanMode;
  minFree: number;
  interval: number;
  inspect: boolean;
  samplingInterval: number;
  quiet: boolean;
  warning: number;
  critical: number;
  hard: number;
  treeWarning: number;
  treeCritical: number;
  treeHard: number;
  heapWarning: number;
  heapCritical: number;
  heapImminent: number;
  fdWarning: number;
  connInfo: number;
  connWarning: number;
  connCritical: number;
  trendWindow: number;
  trendMinRate: number;
  trendHorizon: number;
  cooldown: number;
  maxCaptures: number;
  capturesDir: string;
  capturesKeep: number;
  capturesMaxMb: number;
  controlPort: number;
  metricsPort: number;
  metricsHost: string;
}

export type Source = 'flag' | 'env' | 'file' | 'default';

interface OptionSpec<K extends keyof Config = keyof Config> {
  key: K;
  /** Commander flag syntax; the long name doubles as the config-file key (kebab or camel case). */
  flag: string;
  description: string;
  parse: (raw: string) => Config[K];
  default: Config[K];
  /** Inclusive bounds for numeric options, so a typo cannot make the supervisor spin or never act. */
  min?: number;
  max?: number;
  /** Environment variables of the scripts cfn-supervise replaces, so existing setups keep working. */
  aliases?: string[];
}

const spec = <K extends keyof Config>(s: OptionSpec<K>): OptionSpec => s as unknown as OptionSpec;

export const OPTIONS: readonly OptionSpec[] = [
  spec({ key: 'heapLimit', flag: '--heap-limit <MB>', description: 'V8 old-space limit given to every node process (--max-old-space-size)', parse: parseMegabytes, default: 4096, min: 16, max: 1_048_576, aliases: ['CLAUDE_MEMORY_LIMIT'] }),
  spec({ key: 'stateDir', flag: '--state-dir <dir>', description: 'folder for logs, runs, reports, captures and the control socket', parse: (raw: string) => raw, default: '.cfn-supervise' }),
  spec({ key: 'restart', flag: '--restart <mode>', description: `when to restart the agent: ${RESTART_MODES.join('|')}`, parse: parseChoice(RESTART_MODES), default: 'on-failure' }),
  spec({ key: 'backoff', flag: '--backoff <ms>', description: 'first restart delay, doubled on each quick failure', parse: parseMillis, default: 1000, min: 0, max: 3_600_000 }),
  spec({ key: 'backoffMax', flag: '--backoff-max <ms>', description: 'cap of the restart delay', parse: parseMillis, default: 30_000, min: 0, max: 86_400_000 }),
  spec({ key: 'minUptime', flag: '--min-uptime <ms>', description: 'a run this long counts as stable and resets the backoff', parse: parseMillis, default: 30_000, min: 0, max: 86_400_000 }),
  spec({ key: 'maxRestarts', flag: '--max-restarts <n>', description: 'give up after this many restarts within --restart-window', parse: parseCount, default: 5, min: 0, max: 1_000_000 }),
  spec({ key: 'restartWindow', flag: '--restart-window <ms>', description: 'window of the crash-loop cut-off', parse: parseMillis, default: 300_000, min: 1, max: 604_800_000 }),
  spec({ key: 'killTimeout', flag: '--kill-timeout <ms>', description: 'grace between the stop signal and SIGKILL', parse: parseMillis, default: 10_000, min: 0, max: 3_600_000 }),
  spec({ key: 'orphans', flag: '--orphans <mode>', description: `what to do with a run's leftover processes: ${ORPHAN_MODES.join('|')}`, parse: parseChoice(ORPHAN_MODES), default: 'kill' }),
  spec({ key: 'minFree', flag: '--min-free <MB>', description: 'wait before (re)starting while available memory is below this', parse: parseMegabytes, default: 1024, min: 0, max: 1_048_576 }),
  spec({ key: 'interval', flag: '--interval <ms>', description: 'sampling period', parse: parseMillis, default: 1000, min: 50, max: 3_600_000, aliases: ['CLAUDE_PM_MEMORY_CHECK_INTERVAL'] }),
  spec({ key: 'inspect', flag: '--no-inspect', description: 'no probe and no inspector: RSS-only supervision', parse: parseBoolean, default: true }),
  spec({ key: 'samplingInterval', flag: '--sampling-interval <bytes>', description: 'always-on heap sampling interval, 0 = off', parse: parseBytes, default: 524_288, min: 0, max: 1_073_741_824 }),
  spec({ key: 'quiet', flag: '--quiet', description: 'no notices on stderr', parse: parseBoolean, default: false }),
  spec({ key: 'warning', flag: '--warning <MB>', description: 'per-process RSS warning', parse: parseMegabytes, default: 1024, min: 1, max: 1_048_576, aliases: ['CLAUDE_PM_MEMORY_WARNING_MB'] }),
  spec({ key: 'critical', flag: '--critical <MB>', description: 'per-process RSS critical: capture and GC', parse: parseMegabytes, default: 2048, min: 1, max: 1_048_576, aliases: ['CLAUDE_PM_MEMORY_CRITICAL_MB'] }),
  spec({ key: 'hard', flag: '--hard <MB>', description: 'per-process RSS hard limit: capture and terminate', parse: parseMegabytes, default: 4096, min: 1, max: 1_048_576, aliases: ['CLAUDE_PM_MEMORY_MAX_MB'] }),
  spec({ key: 'treeWarning', flag: '--tree-warning <MB>', description: 'whole-tree RSS warning', parse: parseMegabytes, default: 6144, min: 1, max: 1_048_576 }),
  spec({ key: 'treeCritical', flag: '--tree-critical <MB>', description: 'whole-tree RSS critical: capture and clean up', parse: parseMegabytes, default: 8192, min: 1, max: 1_048_576 }),
  spec({ key: 'treeHard', flag: '--tree-hard <MB>', description: 'whole-tree RSS hard limit: capture and restart (0 = none)', parse: parseMegabytes, default: 0, min: 0, max: 1_048_576 }),
  spec({ key: 'heapWarning', flag: '--heap-warning <fraction>', description: 'heap used / old-space limit: warning', parse: parseFraction, default: 0.7, aliases: ['CLAUDE_MEMORY_ALERT_THRESHOLD'] }),
  spec({ key: 'heapCritical', flag: '--heap-critical <fraction>', description: 'heap used / old-space limit: capture and GC', parse: parseFraction, default: 0.85 }),
  spec({ key: 'heapImminent', flag: '--heap-imminent <fraction>', description: 'heap used / old-space limit: OOM imminent, capture now', parse: parseFraction, default: 0.95 }),
  spec({ key: 'fdWarning', flag: '--fd-warning <n>', description: 'open file descriptors above this warn', parse: parseCount, default: 1000, min: 1, max: 10_000_000 }),
  spec({ key: 'connInfo', flag: '--conn-info <n>', description: 'established TCP connections: info', parse: parseCount, default: 25, min: 1, max: 10_000_000 }),
  spec({ key: 'connWarning', flag: '--conn-warning <n>', description: 'established TCP connections: warning', parse: parseCount, default: 50, min: 1, max: 10_000_000 }),
  spec({ key: 'connCritical', flag: '--conn-critical <n>', description: 'established TCP connections: critical', parse: parseCount, default: 100, min: 1, max: 10_000_000 }),
  spec({ key: 'trendWindow', flag: '--trend-window <ms>', description: 'history the leak trend is fitted over', parse: parseMillis, default: 300_000, min: 1000, max: 86_400_000 }),
  spec({ key: 'trendMinRate', flag: '--trend-min-rate <MB/min>', description: 'heap floor growth that raises the trend alert', parse: parseRate, default: 2, min: 0.001, max: 1_000_000 }),
  spec({ key: 'trendHorizon', flag: '--trend-horizon <min>', description: 'trend alert only when the forecast OOM is this close', parse: parseMinutes, default: 240, min: 1, max: 525_600 }),
  spec({ key: 'cooldown', flag: '--cooldown <s>', description: 'at most one automatic capture, GC or cleanup per process per this long', parse: parseSeconds, default: 300, min: 0, max: 86_400 }),
  spec({ key: 'maxCaptures', flag: '--max-captures <n>', description: 'captures per run, manual ones included', parse: parseCount, default: 10, min: 0, max: 10_000 }),
  spec({ key: 'capturesDir', flag: '--captures-dir <dir>', description: 'where captures go (default <state-dir>/captures)', parse: (raw: string) => raw, default: '', aliases: ['CLAUDE_MEMORY_PROFILE_DIR'] }),
  spec({ key: 'capturesKeep', flag: '--captures-keep <n>', description: 'captures kept on disk, oldest deleted first', parse: parseCount, default: 50, min: 1, max: 100_000 }),
  spec({ key: 'capturesMaxMb', flag: '--captures-max <MB>', description: 'bytes of captures kept on disk', parse: parseMegabytes, default: 4096, min: 1, max: 1_048_576 }),
  spec({ key: 'controlPort', flag: '--control-port <n>', description: 'also serve the control API on 127.0.0.1:<n>, behind the token in <state-dir>/control.token (0 = off)', parse: parseCount, default: 0, min: 0, max: 65_535 }),
  spec({ key: 'metricsPort', flag: '--metrics-port <n>', description: 'serve /metrics alone on <n> (0 = off)', parse: parseCount, default: 0, min: 0, max: 65_535 }),
  spec({ key: 'metricsHost', flag: '--metrics-host <host>', description: 'address the metrics port listens on', parse: (raw: string) => raw, default: '127.0.0.1' }),
];

/** Each list must rise strictly where its values are set (0 = unset): levels are ordered. */
const ORDERED: (keyof Config)[][] = [
  ['warning', 'critical', 'hard'],
  ['treeWarning', 'treeCritical', 'treeHard'],
  ['heapWarning', 'heapCritical', 'heapImminent'],
  ['connInfo', 'connWarning', 'connCritical'],
];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string) => `CFN_SUPERVISE_${kebab(key).replace(/-/g, '_').toUpperCase()}`;

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
    const spec = (k: keyof Config) => OPTIONS.find((o) => o.key === k)!;
    const factor = (config[anchor] as number) / (spec(anchor).default as number);
    for (const k of keys) {
      const def = spec(k).default as number;
      if (sources[k].source !== 'default' || def === 0) continue;
      const scaled = def * factor;
      const value = def < 1 ? Math.min(1, Math.round(scaled * 1000) / 1000) : Math.max(1, Math.round(scaled));
      (config as unknown as Record<string, number>)[k] = value;
      sources[k] = { source: 'default', from: `scaled to --${kebab(anchor)}` };
    }
  }
}

function checkOrder(config: Config): void {
  for (const keys of ORDERED) {
    const set = keys.filter((k) => (config[k] as number) > 0);
    for (let i = 1; i < set.length; i++) {
      const [lo, hi] = [set[i - 1]!, set[i]!];
      if ((config[hi] as number) <= (config[lo] as number)) {
        throw new UsageError(`--${kebab(hi)} (${config[hi]}) must be above --${kebab(lo)} (${config[lo]})`);
      }
    }
  }
}

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

const fileSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

function readConfigFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    // yaml costs ~9 MB and 65 ms to load: only a YAML file pays for it, not every supervisor and subcommand.
    data = /\.json$/i.test(file) ? JSON.parse(text) : (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = fileSchema.safeParse(data ?? {});
  if (!parsed.success) throw new UsageError(`config file ${file} must be a mapping of option names to values`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.data)) {
    const opt = OPTIONS.find((o) => o.key === name || kebab(o.key) === name);
    if (!opt) throw new UsageError(`config file ${file}: unknown option '${name}'`);
    out[opt.key] = String(value);
  }
  return out;
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

export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const file = inputs.configFile ? readConfigFile(path.resolve(inputs.cwd, inputs.configFile)) : {};
  const config = {} as Record<keyof Config, unknown>;
  const sources = {} as ResolvedConfig['sources'];
  for (const opt of OPTIONS) {
    const longFlag = opt.flag.split(' ')[0]!;
    const flagRaw = inputs.flags[opt.key];
    const envKey = [envName(opt.key), ...(opt.aliases ?? [])].find((name) => inputs.env[name] !== undefined && inputs.env[name] !== '');
    if (flagRaw !== undefined) {
      config[opt.key] = parseValue(opt, flagRaw, longFlag);
      sources[opt.key] = { source: 'flag' };
    } else if (envKey) {
      config[opt.key] = parseValue(opt, inputs.env[envKey]!, envKey);
      sources[opt.key] = { source: 'env', from: envKey };
    } else if (file[opt.key] !== undefined) {
      config[opt.key] = parseValue(opt, file[opt.key]!, `${inputs.configFile}: ${kebab(opt.key)}`);
      sources[opt.key] = { source: 'file', from: inputs.configFile };
    } else {
      config[opt.key] = opt.default;
      sources[opt.key] = { source: 'default' };
    }
  }
  const result = config as unknown as Config;
  result.stateDir = path.resolve(inputs.cwd, result.stateDir);
  fitDefaults(result, sources);
  checkOrder(result);
  result.capturesDir = result.capturesDir ? path.resolve(inputs.cwd, result.capturesDir) : path.join(result.stateDir, 'captures');
  if (result.backoffMax < result.backoff) {
    throw new UsageError(`--backoff-max (${result.backoffMax} ms) is below --backoff (${result.backoff} ms)`);
  }
  return { config: result, sources };
}

/** What PATCH /config may change while the agent runs: thresholds, cooldown and the sampling period. */
export const RUNTIME_KEYS: ReadonlySet<keyof Config> = new Set<keyof Config>([
  'interval', 'warning', 'critical', 'hard', 'treeWarning', 'treeCritical', 'treeHard', 'heapWarning', 'heapCritical',
  'heapImminent', 'fdWarning', 'connInfo', 'connWarning', 'connCritical', 'trendWindow', 'trendMinRate', 'trendHorizon', 'cooldown',
]);

/** Validates a run-time change as a whole (each value, then the ordering of levels) and returns the new config. */
export function patchConfig(config: Config, patch: Record<string, unknown>): Config {
  const next = { ...config } as Record<keyof Config, unknown>;
  for (const [name, value] of Object.entries(patch)) {
    const opt = OPTIONS.find((o) => o.key === name || kebab(o.key) === name);
    if (!opt) throw new UsageError(`unknown option '${name}'`);
    if (!RUNTIME_KEYS.has(opt.key)) throw new UsageError(`${kebab(opt.key)} cannot change while the supervisor runs`);
    if (typeof value !== 'number' && typeof value !== 'string') throw new UsageError(`${kebab(opt.key)}: expected a number or a string`);
    next[opt.key] = parseValue(opt, String(value), kebab(opt.key));
  }
  checkOrder(next as unknown as Config);
  return next as unknown as Config;
}

export function describeConfig({ config, sources }: ResolvedConfig): string {
  const width = Math.max(...OPTIONS.map((o) => kebab(o.key).length));
  return OPTIONS.map((o) => {
    const s = sources[o.key];
    const origin = s.from ? `${s.source}, ${s.from}` : s.source;
    return `${kebab(o.key).padEnd(width)}  ${String(config[o.key]).padEnd(16)}  (${origin})`;
  }).join('\n');
}
