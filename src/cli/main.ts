#!/usr/bin/env node
// The bin: argv → a command. The only code that prints for humans. Everything after the first `--` is the
// agent's command line, untouched, so an agent named like a subcommand can never be mistaken for one.
import { Command, CommanderError, Option } from 'commander';
import { OPTIONS, describeConfig, resolveConfig, type Config } from '../config/config.js';
import { Supervisor, VERSION } from '../supervisor/lifecycle/supervisor.js';
import { UsageError } from '../common/errors.js';
import { parseCount } from '../common/units.js';
import { analyzeCommand } from './analyze.js';
import { registerControlCommands } from './commands.js';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
const PROGRAM = 'cfn-supervise';

const notice = (message: string) => process.stderr.write(`${PROGRAM}: ${message}\n`);

function addSupervisorOptions(cmd: Command): Command {
  cmd.addOption(new Option('--config <file>', 'JSON or YAML file of options (flags and CFN_SUPERVISE_* override it)'));
  for (const opt of OPTIONS) cmd.addOption(new Option(opt.flag, opt.description));
  return cmd;
}

/** The options the user actually gave on this command line, as raw strings for resolveConfig. */
function givenFlags(cmd: Command): Partial<Record<keyof Config, string>> {
  const values = cmd.opts();
  const flags: Partial<Record<keyof Config, string>> = {};
  for (const opt of OPTIONS) {
    if (cmd.getOptionValueSource(opt.key) === 'cli') flags[opt.key] = String(values[opt.key]);
  }
  return flags;
}

function resolveFrom(cmd: Command) {
  return resolveConfig({
    flags: givenFlags(cmd),
    env: process.env,
    configFile: (cmd.opts().config as string | undefined) ?? process.env.CFN_SUPERVISE_CONFIG,
    cwd: process.cwd(),
  });
}

async function supervise(cmd: Command, agentArgv: string[]): Promise<number> {
  const [command, ...args] = agentArgv;
  if (!command) throw new UsageError('missing the agent command after --');
  const { config } = resolveFrom(cmd);
  // Everything the supervisor creates is private; the agent gets the user's umask back (see launch.ts).
  const userUmask = process.umask(0o077);
  const supervisor = new Supervisor({
    config,
    command,
    args,
    userUmask,
    notice: config.quiet ? () => {} : notice,
  });
  return supervisor.run();
}

function buildProgram(agentArgv: string[] | undefined, result: { code: Promise<number> | number }): Command {
  const program = addSupervisorOptions(new Command(PROGRAM))
    .usage('[options] -- <command> [args...]\n       cfn-supervise <subcommand> [options]')
    .description('Supervise a long-running Node.js agent: memory watch, heap capture, OOM restart, whole-tree cleanup.')
    .version(VERSION)
    // Options after a subcommand belong to it: `config --state-dir x` must not set the root's --state-dir.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${PROGRAM}: ${str.replace(/^error: /, '')}`) })
    .action(() => {
      if (!agentArgv) throw new UsageError('missing the agent command: cfn-supervise [options] -- <command> [args...]');
      result.code = supervise(program, agentArgv);
    });

  const sub = (name: string, description: string) => {
    const cmd = addSupervisorOptions(program.command(name).description(description)).exitOverride();
    cmd.hook('preAction', () => {
      if (agentArgv) throw new UsageError(`'${name}' takes no agent command after --`);
    });
    return cmd;
  };

  const configCmd = sub('config', 'print the effective configuration and where each value came from');
  configCmd.action(() => {
    process.stdout.write(`${describeConfig(resolveFrom(configCmd))}\n`);
    result.code = 0;
  });

  const analyze = sub('analyze', 'summarise a .heapprofile or .heapsnapshot; given two of one kind, what grew between them')
    .argument('<file>', 'a capture')
    .argument('[file2]', 'a later capture of the same kind, to diff against the first')
    .option('--json', 'print the summary as JSON')
    .option('--top <n>', 'how many sites or constructors to list', (raw: string) => {
      const n = parseCount(raw);
      if (n < 1) throw new UsageError(`--top: expected at least 1, got '${raw}'`);
      return n;
    });
  analyze.action((file: string, file2: string | undefined) => {
    const opts = analyze.opts<{ json?: boolean; top?: number }>();
    result.code = analyzeCommand(file2 ? [file, file2] : [file], opts);
  });

  registerControlCommands({ sub, stateDirOf: (cmd) => resolveFrom(cmd).config.stateDir, result, notice });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const agentArgv = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  const result: { code: Promise<number> | number } = { code: 0 };
  try {
    await buildProgram(agentArgv, result).parseAsync(own, { from: 'user' });
    return await result.code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof UsageError) {
      notice(err.message);
      return EXIT_USAGE;
    }
    notice((err as Error).message);
    return EXIT_FAILURE;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    notice(String(err));
    process.exit(EXIT_FAILURE);
  },
);
