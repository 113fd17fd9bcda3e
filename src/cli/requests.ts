// The subcommands that need nothing but the state dir: status, restart and top, one request each to the running
// supervisor plus formatting. Kept apart from the others so that the quick path (quick.ts) packs only these.
import { ControlClient } from './client.js';
import { out, printJson } from './output.js';
import { fetchStatus, processTable, statusHeader } from './view.js';

interface Flags {
  json?: boolean;
}

export async function status(stateDir: string, flags: Flags): Promise<number> {
  const { status: s, processes } = await fetchStatus(new ControlClient(stateDir));
  if (flags.json) printJson({ ...s, processes });
  else out([...statusHeader(s), '', ...processTable(processes)].join('\n'));
  return 0;
}

export async function top(stateDir: string): Promise<number> {
  const { runTop } = await import('./top.js');
  return runTop(new ControlClient(stateDir));
}

export async function restart(stateDir: string, flags: Flags): Promise<number> {
  const result = await new ControlClient(stateDir).request<{ run_id?: string }>('POST', '/restart', { body: {} });
  if (flags.json) printJson(result);
  else out(result.run_id ? `restarting the agent: run ${result.run_id}` : 'restarting the agent');
  return 0;
}
