// Whether the watch loop works, judged from its ticks' outcomes. A tick that throws is logged and the next one
// tries again, but meanwhile no rule acts: a few failures in a row mean memory is not watched, and /healthz,
// `status` and `diagnostics` must say so rather than look healthy.
export const FAILED_TICKS_UNHEALTHY = 3;

export interface TickOutcomes {
  failedInARow: number;
  /** The last failure's message, kept while failures go on. */
  lastError?: string;
}

export const NO_FAILURES: TickOutcomes = { failedInARow: 0 };

/** The outcomes after one more tick: `error` is its failure's message, undefined when it went through. */
export function afterTick(outcomes: TickOutcomes, error?: string): TickOutcomes {
  return error === undefined ? NO_FAILURES : { failedInARow: outcomes.failedInARow + 1, lastError: error };
}

/** Why the watch loop counts as failing, or undefined while it works. */
export function watchFailing(outcomes: TickOutcomes): string | undefined {
  if (outcomes.failedInARow < FAILED_TICKS_UNHEALTHY) return undefined;
  return `the last ${outcomes.failedInARow} ticks failed, no memory rule acts (last error: ${outcomes.lastError})`;
}
