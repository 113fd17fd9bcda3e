// Cooldowns per action kind and process, and the per-run capture cap. One Gate per run: a new run starts with
// no cooldowns and no captures by construction. The limits are read at each check, so a run-time change of the
// cooldown applies to the next action.
export type Gated = 'capture' | 'gc' | 'cleanup';
export type Target = number | 'tree';

export interface GateLimits {
  cooldownMs: number;
  maxCapturesPerRun: number;
}

export class Gate {
  private readonly last = new Map<string, number>();
  private captures = 0;

  /** Why the action may not run now, or undefined when it may. Manual requests skip the cooldown, never the cap. */
  check(kind: Gated, target: Target, now: number, manual: boolean, limits: GateLimits): string | undefined {
    if (kind === 'capture' && this.captures >= limits.maxCapturesPerRun) {
      return `the run's capture cap (--max-captures ${limits.maxCapturesPerRun}) is reached`;
    }
    const last = this.last.get(`${kind}:${target}`);
    if (!manual && last !== undefined && now - last < limits.cooldownMs) {
      const who = target === 'tree' ? 'the tree' : `pid ${target}`;
      return `${kind} of ${who} is cooling down for ${Math.ceil((limits.cooldownMs - (now - last)) / 1000)} s`;
    }
    return undefined;
  }

  /** The action started: its cooldown runs from now. */
  started(kind: Gated, target: Target, now: number): void {
    this.last.set(`${kind}:${target}`, now);
  }

  /** Only a capture that was written counts towards the cap: a failed one must not use up the run's evidence. */
  captured(): void {
    this.captures++;
  }

  /** Forgets processes that are gone, so the map stays as small as the tree. */
  retain(pids: ReadonlySet<number>): void {
    for (const key of this.last.keys()) {
      const target = key.split(':')[1]!;
      if (target !== 'tree' && !pids.has(Number(target))) this.last.delete(key);
    }
  }
}
