// A real supervisor on a fixture agent, for the tests of what the CLI shows: started in a temp state dir,
// ended (with everything under it) after the test or the file by test/helpers/cli.ts.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ControlClient } from '../../src/cli/client.js';
import type { StatusView } from '../../src/supervisor/control/protocol.js';
import { runCli, startCli, tempDir, waitFor, type Scope, type Started } from '../helpers/cli.js';

export interface Supervised {
  base: string;
  stateDir: string;
  supervisor: Started;
  client: ControlClient;
  /** Runs a subcommand of the built CLI against this state dir. */
  cli(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof runCli>;
}

/** Starts `cfn-supervise [flags] -- node <agent> [args]` and waits until its agent runs. */
export async function startSupervised(agent: string[], flags: string[] = [], scope: Scope = 'test'): Promise<Supervised> {
  const base = tempDir('cfn-views-', scope);
  const stateDir = path.join(base, 'state');
  const supervisor = startCli(['--state-dir', stateDir, '--interval', '200', '--min-free', '0', ...flags, '--', process.execPath, ...agent], { cwd: base, scope });
  const client = new ControlClient(stateDir);
  await waitFor(() => existsSync(client.socketPath), 20_000, 'the control socket');
  await waitFor(async () => (await client.request<StatusView>('GET', '/status')).agent.phase === 'running', 20_000, 'the agent to run');
  return { base, stateDir, supervisor, client, cli: (args, env) => runCli([...args, '--state-dir', stateDir], { cwd: base, env }) };
}
