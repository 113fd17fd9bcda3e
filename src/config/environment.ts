// What the environment already decided before the supervisor was started: the heap limit the user set in
// NODE_OPTIONS and the machine's memory.
import { systemMemory } from '../platform/sysmem.js';

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
