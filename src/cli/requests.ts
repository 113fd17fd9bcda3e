// The subcommands that need nothing but the state dir: status, restart and top, one request each to the running
// supervisor plus formatting. Kept apart from the others so that the quick path (quick.ts) packs only these.
import { ControlClient } from './client.js';
import { out, printJson, printJsonFailure } from './output.js';
import { fetchStatus, processTable, statusHeader } from './view.js';

interface Flags {
  json?: boolean;
}

/** With --json, a failure is JSON on stdout too (and its line on stderr, and its exit code, as without). */
async function jsonOnFailure(flags: Flags, request: () => Promise<number>): Promise<number> {
  try {
    return await request();
  } catch (err) {
    if (flags.json) printJsonFailure(err);
    throw err;
  }
}

export function status(stateDir: string, flags: Flags): Promise<number> {
  return jsonOnFailure(flags, async () => {
    const { status: s, processes } = await fetchStatus(new ControlClient(stateDir));
    if (flags.json) printJson({ ...s, processes });
    else out([...statusHeader(s), '', ...processTable(processes)].join('\n'));
    return 0;
  });
}

export async function top(stateDir: string): Promise<number> {
  const { runTop } = await import('./top.js');
  return runTop(new ControlClient(stateDir));
}

export function restart(stateDir: string, flags: Flags): Promise<number> {
  return jsonOnFailure(flags, async () => {
    const result = await new ControlClient(stateDir).request<{ run_id?: string }>('POST', '/restart', { body: {} });
    if (flags.json) printJson(result);
    else out(result.run_id ? `restarting the agent: run ${result.run_id}` : 'restarting the agent');
    return 0;
  });
}
