// The command line: argv → a command. The only code that prints for humans. Each subcommand is one entry of
// SUBCOMMANDS: its name, description, flags and what it runs; args.ts reads the command line against that table
// and writes the help from it. Only what the chosen command needs is loaded: `status` never loads the supervisor.
import { EXIT } from '../common/errors.js';
import { resolveConfig, type ResolvedConfig } from '../config/config.js';
import { VERSION } from '../common/version.js';
import { adoptUserNodeOptions } from '../config/node-options.js';
import { parseCommandLine, switchFlag, valueFlag, type Subcommand, type SuperviseArgs } from './args.js';
import { exitWhenDone, failed, quietOnBrokenPipes } from './output.js';

export interface Context {
  resolve(): ResolvedConfig;
  stateDir(): string;
}

/** A subcommand's own flags by camel-case name (args.ts): a value as written, a switch as true. */
type Opts = Record<string, string | true | undefined>;

interface Runnable extends Subcommand {
  run: (ctx: Context, opts: Opts, positional: string[]) => Promise<number>;
}

const json = switchFlag('json', 'print the result as JSON');
const asJson = (opts: Opts) => ({ json: opts.json === true });

const SUBCOMMANDS: Runnable[] = [
  {
    name: 'status',
    description: 'show the supervised processes: RSS, heap, level, trend, how each is instrumented',
    flags: [json],
    run: async (ctx, opts) => (await import('./requests.js')).status(ctx.stateDir(), asJson(opts)),
  },
  {
    name: 'top',
    description: 'live view of the agent tree, refreshed every sampling interval (q to quit)',
    run: async (ctx) => (await import('./requests.js')).top(ctx.stateDir()),
  },
  {
    name: 'dashboard',
    description: 'live page of the agent tree in the browser (127.0.0.1, a one-time token in the URL it prints): memory, sparklines, alerts, captures, capture and GC buttons',
    flags: [valueFlag('port', '<n>', 'the port to serve on (default: any free one)')],
    run: async (ctx, opts) => (await import('./dashboard.js')).dashboardCommand(ctx.stateDir(), opts),
  },
  {
    name: 'capture',
    description: 'write a sampling heap profile (default) or a heap snapshot of a node process; prints the file',
    flags: [
      valueFlag('pid', '<n>', 'which process (default: the node process with the largest heap, npm and npx last); with no supervisor, any node process you own, over its inspector port'),
      valueFlag('thread', '<id>', "a worker thread of the --pid process (its threadId, as status lists it): that isolate's heap"),
      switchFlag('snapshot', 'a full heap snapshot instead of a sampling profile (pauses the process)'),
      valueFlag('seconds', '<n>', 'sample afresh for this many seconds, then write the profile'),
      json,
    ],
    run: async (ctx, opts) => (await import('./commands.js')).capture(ctx.resolve().config, opts),
  },
  {
    name: 'gc',
    description: 'force a garbage collection in node processes and show the heap before and after',
    flags: [valueFlag('pid', '<n>', 'only this process (default: every node process of the tree); with no supervisor, any node process you own'), json],
    run: async (ctx, opts) => (await import('./commands.js')).gc(ctx.resolve().config, opts),
  },
  {
    name: 'cleanup',
    description: 'with a supervisor: collect garbage in its node processes, reap zombies; without: end and record what a lost supervisor left, drop old captures',
    flags: [json],
    run: async (ctx, opts) => (await import('./commands.js')).cleanup(ctx.resolve().config, opts),
  },
  {
    name: 'restart',
    description: "stop the agent's tree and start a new run",
    flags: [json],
    run: async (ctx, opts) => (await import('./requests.js')).restart(ctx.stateDir(), asJson(opts)),
  },
  {
    name: 'config',
    description: 'print the effective configuration and where each value came from',
    allOptions: true,
    flags: [switchFlag('live', "the running supervisor's configuration instead of this command line's"), json],
    run: async (ctx, opts) => (await import('./config-command.js')).configCommand(ctx, { live: opts.live === true, ...asJson(opts) }),
  },
  {
    name: 'monitor',
    description: 'watch any node process you own, supervised or not, over its inspector port: RSS, heap, trend, verdict',
    flags: [
      valueFlag('pid', '<n>', 'the node process to watch', true),
      valueFlag('duration', '<ms>', 'how long to watch: 300000, 5m (default 5m)'),
      valueFlag('interval', '<ms>', 'time between samples: 1000, 1s (default 1s)'),
      switchFlag('capture-on-growth', 'save a sampling profile when the heap trend says it leaks'),
      json,
    ],
    run: async (ctx, opts) => (await import('./commands.js')).monitor(ctx.resolve().config, opts),
  },
  {
    name: 'check',
    description: 'preflight before a task, no supervisor needed: exit 0 when it is safe to start, 1 (and why) when not',
    accepts: ['minFreeMb'],
    flags: [
      valueFlag('min-free', '<MB>', 'memory that must be available (default: --min-free of the config, 1024)'),
      valueFlag('max-load', '<n>', '1-minute load average per core above which it is not safe'),
      json,
    ],
    run: async (ctx, opts) => {
      const text = (v: Opts[string]) => (typeof v === 'string' ? v : undefined);
      return (await import('./check.js')).checkCommand({ minFreeMb: text(opts.minFree) ?? ctx.resolve().config.minFreeMb, maxLoad: text(opts.maxLoad), ...asJson(opts), stateDir: ctx.stateDir() });
    },
  },
  {
    name: 'diagnostics',
    description: 'one-page health check of the running supervisor: memory, levels, trends, last alerts and capture, what to do next',
    flags: [json],
    run: async (ctx, opts) => (await import('./diagnostics.js')).diagnosticsCommand(ctx.stateDir(), asJson(opts)),
  },
  {
    name: 'report',
    description: "what the state dir's journals say: runs per day, memory per role, leaks across runs, culprits, thresholds to set",
    flags: [
      valueFlag('since', '<when>', 'the period: 7d, 24h, 30m or an ISO date (default 7d)'),
      json,
      valueFlag('html', '<file>', 'also write a self-contained HTML page with charts'),
    ],
    run: async (ctx, opts) => (await import('./report.js')).reportCommand(ctx.stateDir(), opts),
  },
  {
    name: 'logs',
    description: "the agent's stdout and stderr as kept in <state-dir>/logs (when they were not a terminal); no supervisor needed",
    flags: [
      { ...switchFlag('follow', 'keep printing new lines, across rotations and new runs, until interrupted'), short: 'f' },
      valueFlag('lines', '<n>', 'how many of the last lines to print first (default 20)'),
      valueFlag('run', '<id>', 'only this run (its run_id in runs.jsonl)'),
      json,
    ],
    run: async (ctx, opts) => (await import('./logs.js')).logsCommand(ctx.stateDir(), opts),
  },
  {
    name: 'analyze',
    description: 'summarise a .heapprofile or .heapsnapshot; given two of one kind, what grew between them',
    args: '<file> [file2]',
    flags: [
      json,
      valueFlag('top', '<n>', 'how many sites or constructors to list'),
      valueFlag('pprof', '<out>', 'write a .heapprofile as a gzipped pprof profile (Pyroscope, Grafana, go tool pprof) to <out>'),
    ],
    run: async (_ctx, opts, files) => {
      const { top, pprof } = opts as { top?: string; pprof?: string };
      return (await import('./analyze.js')).analyzeCommand(files, { ...asJson(opts), top: top === undefined ? undefined : Number(top), pprof });
    },
  },
];

/** The configuration a command line's options give, with the environment and the config file it names. */
function resolveArgs({ flags, configFile }: SuperviseArgs): ResolvedConfig {
  return resolveConfig({ flags, env: process.env, configFile: configFile ?? process.env.CFN_SUPERVISE_CONFIG, cwd: process.cwd() });
}

function contextOf(args: SuperviseArgs): Context {
  const resolve = () => resolveArgs(args);
  return { resolve, stateDir: () => resolve().config.stateDir };
}

function write(text: string): number {
  process.stdout.write(`${text}\n`);
  return EXIT.ok;
}

async function main(argv: string[]): Promise<number> {
  quietOnBrokenPipes();
  try {
    const parsed = parseCommandLine(argv, SUBCOMMANDS, process.stdout.columns || 80);
    switch (parsed.kind) {
      case 'help':
        return write(parsed.text);
      case 'version':
        return write(VERSION);
      case 'supervise':
        return await (await import('./supervise.js')).superviseCommand(resolveArgs(parsed.args), parsed.agent);
      case 'subcommand':
        return await parsed.spec.run(contextOf(parsed.args), parsed.opts, parsed.positional);
    }
  } catch (err) {
    return failed(err);
  }
}

/** Runs the command line and exits with its code. */
export function run(argv: string[]): void {
  adoptUserNodeOptions(process.env);
  exitWhenDone(main(argv));
}
