// `cfn-supervise config [--live] [--json]`: the effective configuration of this command line (each value with
// where it came from), or of the supervisor running in the state dir.
import { configByName, describeConfig, sourcesByName } from '../config/config.js';
import type { Context } from './program.js';
import { out, printJson } from './output.js';

export async function configCommand(ctx: Context, opts: { live?: boolean; json?: boolean }): Promise<number> {
  const resolved = ctx.resolve();
  if (opts.live) {
    const { ControlClient } = await import('./client.js');
    const live = await new ControlClient(resolved.config.stateDir).request<Record<string, unknown>>('GET', '/config');
    if (opts.json) printJson(live);
    else {
      const width = Math.max(...Object.keys(live).map((k) => k.length));
      out(Object.entries(live).map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`).join('\n'));
    }
    return 0;
  }
  if (opts.json) {
    // The values as GET /config serves them, and beside them where each came from, as `config` shows it.
    printJson({ ...configByName(resolved.config), sources: sourcesByName(resolved) });
    return 0;
  }
  out(describeConfig(resolved));
  return 0;
}
