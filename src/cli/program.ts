// The command line: argv → a command. The only code that prints for humans. Everything after the first `--` is the
// agent's command line, untouched, so an agent named like a subcommand can never be mistaken for one. Only what
// the chosen command needs is loaded: `--version` and `status` never load the supervisor, and a supervisor start
// whose options parse strictly (quick-args.ts) never loads commander.
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { EXIT, UsageError } from '../common/errors.js';
import { LIST_SEPARATOR, OPTIONS, camel, flagOf, writtenFlag, type Config, type ResolvedConfig } from '../config/config.js';
import { VERSION } from '../common/version.js';
import { adoptUserNodeOptions } from '../config/node-options.js';
import { exitWhenDone, failed, quietOnBrokenPipes } from './output.js';
import { quickSuperviseArgs, resolveArgs, type ControlArgs, type SuperviseArgs } from './quick-args.js';

type Command = Commander.Command;
let loaded: typeof Commander | undefined;
// Loaded as the CommonJS module it is: through its ESM wrapper it costs twice as long (~11 against ~6 ms).
const commander = () => (loaded ??= createRequire(import.meta.url)('commander') as typeof Commander);

const PROGRAM = 'cfn-supervise';

/** Options every subcommand understands, wherever they are written: they say which supervisor is meant. */
const GLOBAL_KEYS: ReadonlySet<keyof Config> = new Set(['stateDir']);

interface Subcommand {
  name: string;
  description: string;
  /** Takes every supervisor option (config shows their effect). */
  allOptions?: boolean;
  /** Supervisor options that mean something to it when written before it (besides the state dir). */
  accepts?: (keyof Config)[];
  setup?: (cmd: Command) => void;
  run: (ctx: Context, cmd: Command, args: string[]) => Promise<number>;
}

export interface Context {
  resolve(): ResolvedConfig;
  stateDir(): string;
}

const json = () => new (commander().Option)('--json', 'print the result as JSON');
const pidOption = (what: string) => new (commander().Option)('--pid <n>', what);

const SUBCOMMANDS: Subcommand[] = [
  {
    name: 'status',
    description: 'show the supervised processes: RSS, heap, level, trend, how each is instrumented',
    setup: (c) => c.addOption(json()),
    run: async (ctx, cmd) => (await import('./requests.js')).status(ctx.stateDir(), cmd.opts()),
  },
  {
    name: 'top',
    description: 'live view of the agent tree, refreshed every sampling interval (q to quit)',
    run: async (ctx) => (await import('./requests.js')).top(ctx.stateDir()),
  },
  {
    name: 'capture',
    description: 'write a sampling heap profile (default) or a heap snapshot of a node process; prints the file',
    setup: (c) =>
      c
        .addOption(pidOption('which process (default: the node process with the largest heap, npm and npx last); with no supervisor, any node process you own, over its inspector port'))
        .option('--snapshot', 'a full heap snapshot instead of a sampling profile (pauses the process)')
        .option('--seconds <n>', 'sample afresh for this many seconds, then write the profile')
        .addOption(json()),
    run: async (ctx, cmd) => (await import('./commands.js')).capture(ctx.resolve().config, cmd.opts()),
  },
  {
    name: 'gc',
    description: 'force a garbage collection in node processes and show the heap before and after',
    setup: (c) => c.addOption(pidOption('only this process (default: every node process of the tree); with no supervisor, any node process you own')).addOption(json()),
    run: async (ctx, cmd) => (await import('./commands.js')).gc(ctx.resolve().config, cmd.opts()),
  },
  {
    name: 'cleanup',
    description: 'with a supervisor: collect garbage in its node processes, reap zombies; without: end and record what a lost supervisor left, drop old captures',
    setup: (c) => c.addOption(json()),
    run: async (ctx, cmd) => (await import('./commands.js')).cleanup(ctx.resolve().config, cmd.opts()),
  },
  {
    name: 'restart',
    description: "stop the agent's tree and start a new run",
    setup: (c) => c.addOption(json()),
    run: async (ctx, cmd) => (await import('./requests.js')).restart(ctx.stateDir(), cmd.opts()),
  },
  {
    name: 'config',
    description: 'print the effective configuration and where each value came from',
    allOptions: true,
    setup: (c) => c.option('--live', "the running supervisor's configuration instead of this command line's").addOption(json()),
    run: async (ctx, cmd) => (await import('./config-command.js')).configCommand(ctx, cmd.opts()),
  },
  {
    name: 'monitor',
    description: 'watch any node process you own, supervised or not, over its inspector port: RSS, heap, trend, verdict',
    setup: (c) =>
      c
        .requiredOption('--pid <n>', 'the node process to watch')
        .option('--duration <ms>', 'how long to watch: 300000, 5m (default 5m)')
        .option('--interval <ms>', 'time between samples: 1000, 1s (default 1s)')
        .option('--capture-on-growth', 'save a sampling profile when the heap trend says it leaks')
        .addOption(json()),
    run: async (ctx, cmd) => (await import('./commands.js')).monitor(ctx.resolve().config, cmd.opts()),
  },
  {
    name: 'check',
    description: 'preflight before a task, no supervisor needed: exit 0 when it is safe to start, 1 (and why) when not',
    accepts: ['minFreeMb'],
    setup: (c) =>
      c
        .option('--min-free <MB>', 'memory that must be available (default: --min-free of the config, 1024)')
        .option('--max-load <n>', '1-minute load average per core above which it is not safe')
        .addOption(json()),
    run: async (ctx, cmd) => {
      const o = cmd.opts<{ minFree?: string; maxLoad?: string; json?: boolean }>();
      return (await import('./check.js')).checkCommand({ minFreeMb: o.minFree ?? ctx.resolve().config.minFreeMb, maxLoad: o.maxLoad, json: o.json, stateDir: ctx.stateDir() });
    },
  },
  {
    name: 'diagnostics',
    description: "one-page health check of the running supervisor: memory, levels, trends, last alerts and capture, what to do next",
    setup: (c) => c.addOption(json()),
    run: async (ctx, cmd) => (await import('./diagnostics.js')).diagnosticsCommand(ctx.stateDir(), cmd.opts()),
  },
  {
    name: 'report',
    description: "what the state dir's journals say: runs per day, memory per role, leaks across runs, culprits, thresholds to set",
    setup: (c) =>
      c
        .option('--since <when>', 'the period: 7d, 24h, 30m or an ISO date (default 7d)')
        .addOption(json())
        .option('--html <file>', 'also write a self-contained HTML page with charts'),
    run: async (ctx, cmd) => (await import('./report.js')).reportCommand(ctx.stateDir(), cmd.opts()),
  },
  {
    name: 'analyze',
    description: 'summarise a .heapprofile or .heapsnapshot; given two of one kind, what grew between them',
    setup: (c) =>
      c
        .argument('<file>', 'a capture')
        .argument('[file2]', 'a later capture of the same kind, to diff against the first')
        .addOption(json())
        .option('--top <n>', 'how many sites or constructors to list')
        .option('--pprof <out>', 'write a .heapprofile as a gzipped pprof profile (Pyroscope, Grafana, go tool pprof) to <out>'),
    run: async (_ctx, cmd, files) => {
      const { json: asJson, top, pprof } = cmd.opts<{ json?: boolean; top?: string; pprof?: string }>();
      return (await import('./analyze.js')).analyzeCommand(files.filter(Boolean), { json: asJson, top: top === undefined ? undefined : Number(top), pprof });
    },
  },
];

/** Edit distance, for "did you mean": a mistyped subcommand is usually one or two keys away. */
function distance(a: string, b: string): number {
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

function addSupervisorOptions(cmd: Command, withDefaults: boolean): Command {
  const { Option } = commander();
  cmd.addOption(new Option('--config <file>', 'JSON or YAML file of options (flags and CFN_SUPERVISE_* override it)'));
  for (const opt of OPTIONS) {
    const flag = `${writtenFlag(opt)}${opt.arg ? ` ${opt.arg}` : ''}`;
    const shown = withDefaults && !opt.negate && opt.arg && opt.default !== '' && !opt.list ? ` (default: ${opt.shownDefault ?? String(opt.default)})` : '';
    const option = new Option(flag, `${opt.description}${shown}`);
    if (opt.list) option.argParser((value: string, previous?: string) => (previous === undefined ? value : `${previous}${LIST_SEPARATOR}${value}`));
    cmd.addOption(option);
  }
  return cmd;
}

/** The supervisor options the user gave on this command line, as raw strings for resolveConfig. */
function givenFlags(cmd: Command): Partial<Record<keyof Config, string>> {
  const values = cmd.opts();
  const flags: Partial<Record<keyof Config, string>> = {};
  for (const opt of OPTIONS) {
    const attribute = camel(opt.name);
    if (cmd.getOptionValueSource(attribute) === 'cli') flags[opt.key] = String(values[attribute]);
  }
  return flags;
}

/** What commander read: the root's options, then the subcommand's. */
function argsOf(program: Command, sub?: Command): SuperviseArgs {
  const configFile = (sub?.opts().config as string | undefined) ?? (program.opts().config as string | undefined);
  const flags = { ...givenFlags(program), ...(sub ? givenFlags(sub) : {}) };
  return configFile === undefined ? { flags } : { flags, configFile };
}

function contextOf(program: Command, sub?: Command): Context {
  const resolve = () => resolveArgs(argsOf(program, sub));
  return { resolve, stateDir: () => resolve().config.stateDir };
}

async function supervise(args: SuperviseArgs, agentArgv: string[]): Promise<number> {
  if (agentArgv.length === 0 || !agentArgv[0]) throw new UsageError('missing the agent command after --');
  const { superviseCommand } = await import('./supervise.js');
  return superviseCommand(resolveArgs(args), agentArgv);
}

/**
 * `chosen` is the subcommand the command line names: only it gets its options, hooks and action (the others only
 * a name and a line in the root's help), since building all of them is a fifth of a short command's own time.
 * With none named, all are built for the root's help, unless an agent command says this is a supervisor start.
 */
type Start = (args: SuperviseArgs, agentArgv: string[]) => Promise<number>;
type RunSubcommand = (spec: Subcommand, program: Command, cmd: Command, positional: string[]) => Promise<number>;

const runSubcommand: RunSubcommand = (spec, program, cmd, positional) => spec.run(contextOf(program, cmd), cmd, positional);

function buildProgram(agentArgv: string[] | undefined, chosen: string | undefined, result: { code: Promise<number> }, start: Start = supervise, runSub = runSubcommand): Command {
  const { Command } = commander();
  const program = addSupervisorOptions(new Command(PROGRAM), true)
    .usage('[options] -- <command> [args...]\n       cfn-supervise <subcommand> [options]    (cfn-supervise help <subcommand>)')
    .description('Supervise a long-running Node.js agent: memory watch, heap capture, OOM restart, whole-tree cleanup.')
    .version(VERSION)
    // Options after a subcommand belong to it; the root's own options before it are checked in preAction.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${PROGRAM}: ${oneLine(str)}\n`) })
    .action(() => {
      if (!agentArgv) throw new UsageError('missing the agent command: cfn-supervise [options] -- <command> [args...]');
      result.code = start(argsOf(program), agentArgv);
    });

  for (const spec of SUBCOMMANDS) {
    const cmd = program.command(spec.name).description(spec.description).exitOverride();
    if (chosen === undefined ? agentArgv : spec.name !== chosen) continue;
    if (spec.allOptions) addSupervisorOptions(cmd, false);
    else cmd.option('--state-dir <dir>', 'the state dir of the supervisor meant (default .cfn-supervise)').option('--config <file>', 'a config file naming the state dir');
    spec.setup?.(cmd);
    cmd.hook('preAction', () => {
      if (agentArgv) throw new UsageError(`'${spec.name}' takes no agent command after --`);
      if (spec.allOptions) return;
      for (const key of Object.keys(givenFlags(program)) as (keyof Config)[]) {
        if (!GLOBAL_KEYS.has(key) && !spec.accepts?.includes(key)) throw new UsageError(`${flagOf(key)} does not apply to '${spec.name}'`);
      }
    });
    cmd.action((...args: unknown[]) => {
      const positional = args.filter((a): a is string => typeof a === 'string' || a === undefined).map((a) => a ?? '');
      result.code = runSub(spec, program, cmd, positional);
    });
  }
  return program;
}

/**
 * What commander reads from a supervisor start's options (`own`, the command line before `--`), without starting
 * anything: quickSuperviseArgs must read the same wherever it reads at all.
 */
export async function commanderSuperviseArgs(own: string[]): Promise<SuperviseArgs> {
  let read: SuperviseArgs | undefined;
  const result = { code: Promise.resolve(EXIT.ok) };
  await buildProgram(['agent'], undefined, result, async (args) => ((read = args), EXIT.ok)).parseAsync(own, { from: 'user' });
  if (!read) throw new Error('commander started no supervisor');
  return read;
}

/** What commander reads from a `status`, `restart` or `top` command line: quickControlArgs must read the same. */
export async function commanderControlArgs(argv: string[]): Promise<ControlArgs> {
  let read: ControlArgs | undefined;
  const result = { code: Promise.resolve(EXIT.ok) };
  const take: RunSubcommand = async (spec, program, cmd) => {
    read = { subcommand: spec.name as ControlArgs['subcommand'], json: cmd.opts().json === true, ...argsOf(program, cmd) };
    return EXIT.ok;
  };
  await buildProgram(undefined, firstWord(argv), result, supervise, take).parseAsync(argv, { from: 'user' });
  if (!read) throw new Error('commander ran no subcommand');
  return read;
}

/** Commander's errors in one line: its "did you mean" comes on a line of its own. */
function oneLine(message: string): string {
  return message
    .replace(/^error: /, '')
    .trim()
    .replace(/\n\(Did you mean (.*)\)$/, ' (did you mean $1)')
    .replace(/\n+/g, '; ');
}

/** The root's own flags, as they are written (a value after `=` aside). */
function isKnownFlag(arg: string): boolean {
  const flag = arg.split('=')[0]!;
  return ['--config', '--help', '-h', '--version', '-V'].includes(flag) || OPTIONS.some((o) => flag === writtenFlag(o));
}

/** The first word that is neither an option nor an option's value: what commander will take as a subcommand. */
function firstWord(argv: string[]): string | undefined {
  const takesValue = new Set(['--config', ...OPTIONS.filter((o) => o.arg).map(writtenFlag)]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) return a;
    if (takesValue.has(a)) i++;
  }
  return undefined;
}

/** Says what was meant instead of commander's "too many arguments": the missing `--`, a misspelt subcommand. */
function checkFirstWord(own: string[], hasAgent: boolean): string[] {
  const word = firstWord(own);
  if (word === undefined || SUBCOMMANDS.some((s) => s.name === word)) return own;
  // After a misspelt option the word is most likely its value: commander names the option, and what it meant.
  const before = own[own.indexOf(word) - 1];
  if (before?.startsWith('-') && !isKnownFlag(before)) return own;
  if (word === 'help') {
    const topic = own[own.indexOf('help') + 1];
    if (topic === undefined) return ['--help'];
    if (SUBCOMMANDS.some((s) => s.name === topic)) return [topic, '--help'];
    throw new UsageError(`no subcommand '${topic}'; the subcommands are ${SUBCOMMANDS.map((s) => s.name).join(', ')}`);
  }
  const near = SUBCOMMANDS.map((s) => s.name).filter((name) => distance(word, name) <= Math.max(1, Math.floor(name.length / 3)));
  if (near.length > 0) throw new UsageError(`unknown subcommand '${word}'; did you mean '${near[0]}'?`);
  const rest = own.slice(own.indexOf(word)).join(' ');
  if (hasAgent) throw new UsageError(`unexpected '${word}' before --; options go before --, the agent's command after it`);
  throw new UsageError(`unknown subcommand '${word}'; to supervise a command, put -- before it: cfn-supervise [options] -- ${rest}`);
}

async function main(argv: string[]): Promise<number> {
  quietOnBrokenPipes();
  const dashdash = argv.indexOf('--');
  const agentArgv = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  const result: { code: Promise<number> } = { code: Promise.resolve(EXIT.ok) };
  try {
    const before = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
    const quick = agentArgv?.[0] ? quickSuperviseArgs(before) : undefined;
    if (quick && agentArgv) return await supervise(quick, agentArgv);
    const own = checkFirstWord(before, agentArgv !== undefined);
    await buildProgram(agentArgv, firstWord(own), result).parseAsync(own, { from: 'user' });
    return await result.code;
  } catch (err) {
    if (loaded && err instanceof loaded.CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return failed(err);
  }
}

/** Runs the command line and exits with its code. */
export function run(argv: string[]): void {
  // The quick path (status, restart, top) starts nothing and needs no NODE_OPTIONS.
  adoptUserNodeOptions(process.env);
  exitWhenDone(main(argv));
}
