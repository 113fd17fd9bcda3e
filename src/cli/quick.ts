// The bin's quick path, packed on its own as dist/cli/quick.cjs: `status`, `restart` and `top` with no commander
// and none of the supervisor's code, which a short command would otherwise read and compile before its one request
// (the program's pack is ~9 times this one). A command line this path cannot read strictly goes to the program.
import { exitWhenDone, failed, quietOnBrokenPipes } from './output.js';
import { quickControlArgs, resolveArgs } from './quick-args.js';
import { restart, status, top } from './requests.js';

/** Runs `argv` when it is one of these subcommands written plainly; false (nothing done) when it is not. */
export function runQuick(argv: string[]): boolean {
  const args = quickControlArgs(argv);
  if (!args) return false;
  quietOnBrokenPipes();
  const command = async () => {
    try {
      const { stateDir } = resolveArgs(args).config;
      if (args.subcommand === 'top') return await top(stateDir);
      return await (args.subcommand === 'status' ? status : restart)(stateDir, { json: args.json });
    } catch (err) {
      return failed(err);
    }
  };
  exitWhenDone(command());
  return true;
}
