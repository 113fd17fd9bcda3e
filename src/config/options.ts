// Every option of the supervisor, one row each: its one name (the flag's, used for the environment variable,
// the config file and PATCH /config too), the key that carries its unit, its parser, default, bounds and the
// seed scripts' variables that mean it. config.ts resolves them; the CLI builds its flags from them.
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
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const ALERT_LEVELS = ['info', 'warning', 'critical', 'imminent', 'hard'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];
export const CAPTURE_SIGNALS = ['off', 'USR2'] as const;
export type CaptureSignal = (typeof CAPTURE_SIGNALS)[number];

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
  /** Keep the agent's stdout and stderr (when not a terminal) in <state-dir>/logs. */
  agentLog: boolean;
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
  /** A signal to the supervisor that captures the agent instead of reaching it. */
  captureSignal: CaptureSignal;
  trendMinMbPerMin: number;
  trendHorizonMin: number;
  offheapWarningMbPerMin: number;
  offheapCriticalMbPerMin: number;
  clearAfterMs: number;
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
  'trendMinMbPerMin', 'trendHorizonMin', 'offheapWarningMbPerMin', 'offheapCriticalMbPerMin',
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

/** What a flag can set: everything but `roles`, which only a config file holds. */
export type OptionKey = Exclude<keyof Config, 'roles'>;

export interface OptionSpec<K extends OptionKey = OptionKey> {
  key: K;
  /** The one name of the option: the long flag, the config-file and PATCH key (kebab or camel case), the env suffix. */
  name: string;
  /** The value's syntax after the flag in help and errors, e.g. '<MB>'; absent for switches. */
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

const spec = <K extends OptionKey>(s: OptionSpec<K>): OptionSpec => s;
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
/** `USR2`, also written `SIGUSR2` or `usr2`, as kill(1) takes it. */
const captureSignal = (raw: string) => parseChoice(CAPTURE_SIGNALS)(/^(sig)?usr2$/i.test(raw.trim()) ? 'USR2' : raw);

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
  spec({ key: 'agentLog', name: 'agent-log', negate: true, description: "leave the agent's stdout and stderr alone: no copy in <state-dir>/logs, no last stderr lines in a failed run's record (a terminal is never read)", parse: parseBoolean, default: true }),
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
  spec({ key: 'trendWindowMs', name: 'trend-window', arg: '<ms>', description: 'history the leak trend is fitted over; it needs 8 heap readings, and a quiet heap is read every 15 s, so a short window sees only fast leaks', parse: parseMillis, default: 300_000, min: 1000, max: 86_400_000, runtime: true }),
  spec({ key: 'trendMinMbPerMin', name: 'trend-min-rate', arg: '<MB/min>', description: 'heap floor growth that raises the trend alert', parse: parseRate, default: 2, min: 0.001, max: 1_000_000, runtime: true }),
  spec({ key: 'trendHorizonMin', name: 'trend-horizon', arg: '<min>', description: 'trend alert only when the forecast OOM is this close', parse: parseMinutes, default: 240, min: 1, max: 525_600, runtime: true }),
  spec({ key: 'offheapWarningMbPerMin', name: 'offheap-warning', arg: '<MB/min>', description: 'growth of RSS outside the V8 heap (Buffers, ArrayBuffers, native memory) that warns', parse: parseRate, default: 20, min: 0.001, max: 1_000_000, runtime: true }),
  spec({ key: 'offheapCriticalMbPerMin', name: 'offheap-critical', arg: '<MB/min>', description: 'growth of RSS outside the V8 heap that is critical (a heap snapshot names what holds it)', parse: parseRate, default: 200, min: 0.001, max: 1_000_000, runtime: true }),
  spec({ key: 'clearAfterMs', name: 'clear-after', arg: '<ms>', description: 'a level goes down only after the value stayed 5% below it this long (and two ticks): a see-saw alerts once', parse: parseMillis, default: 30_000, min: 0, max: 86_400_000, runtime: true }),
  spec({ key: 'cooldownS', name: 'cooldown', arg: '<s>', description: 'at most one automatic capture, GC or cleanup per process per this long (seconds: 300, 5m)', parse: parseSeconds, default: 300, min: 0, max: 86_400, runtime: true }),
  spec({ key: 'captureSignal', name: 'capture-signal', arg: '<signal>', description: `USR2: SIGUSR2 to the supervisor captures the agent's heap profile (as \`capture\`) instead of reaching the agent, where node with no handler dies of it: ${CAPTURE_SIGNALS.join('|')}`, parse: captureSignal, default: 'off' }),
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


/** An option's name in camel case: how a subcommand's own flags are named, and a config file or PATCH may spell it. */
export const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envName = (name: string) => `CFN_SUPERVISE_${name.replace(/-/g, '_').toUpperCase()}`;
export const option = (key: keyof Config): OptionSpec => OPTIONS.find((o) => o.key === key)!;
/** The option a file key, PATCH key or flag name names: its kebab name or the camel case of it. */
export const optionNamed = (name: string): OptionSpec | undefined => OPTIONS.find((o) => o.name === name || camel(o.name) === name);
export const flagOf = (key: keyof Config) => `--${option(key).name}`;
/** The flag as a command line writes it: a default-on switch only in its negated form (`--no-probe`). */
export const writtenFlag = (opt: OptionSpec) => (opt.negate ? `--no-${opt.name}` : `--${opt.name}`);

export function parseValue(opt: OptionSpec, raw: string, where: string): Config[keyof Config] {
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
