// What the environment already decided before the supervisor was started: the user's own NODE_OPTIONS (minus
// what an outer supervisor added, for nested use) and the machine's memory.
import { systemMemory } from '../common/sysmem.js';

/** Set in the agent's environment to exactly what the supervisor appended to NODE_OPTIONS. */
export const OUR_NODE_OPTIONS_ENV = 'CFN_SUPERVISE_NODE_OPTIONS';

/** NODE_OPTIONS as the user set it: a supervisor started inside a supervised tree strips the outer one's part. */
export function userNodeOptions(env: NodeJS.ProcessEnv): string | undefined {
  const all = env.NODE_OPTIONS;
  const ours = env[OUR_NODE_OPTIONS_ENV];
  if (!all || !ours) return all;
  const at = all.lastIndexOf(ours);
  return at < 0 ? all : `${all.slice(0, at)}${all.slice(at + ours.length)}`.trim();
}

/** The last --max-old-space-size in NODE_OPTIONS wins, as node reads them. */
export function defaultHeapLimit(nodeOptions: string | undefined): number | undefined {
  let mb: number | undefined;
  for (const m of (nodeOptions ?? '').matchAll(/(?:^|\s)--max[-_]old[-_]space[-_]size[= ]"?(\d+)/g)) mb = Number(m[1]);
  return mb !== undefined && mb > 0 ? mb : undefined;
}

export function totalMemoryMb(): number | undefined {
  try {
    return systemMemory().total_mb;
  } catch {
    return undefined;
  }
}
