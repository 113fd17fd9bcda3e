// Cooldowns per action kind and process, and the per-run capture cap. One Gate per run: a new run starts with
// no cooldowns and no captures by construction. The limits are read at each check, so a run-time change of the
// cooldown applies to the next action. A capture holds its slot of the cap from admission on, since captures run
// side by side for seconds: counting only the written ones let six parallel requests past a cap of two.
export type Gated = 'capture' | 'gc' | 'cleanup';
/** A pid, an isolate (probe-link's isolateKey: `pid` or `pid/thread`), or the whole tree. */
export type Target = number | string;

export interface GateLimits {
  cooldownMs: number;
  maxCapturesPerRun: number;
}

export class Gate {
  private readonly last = new Map<string, number>();
  private captures = 0;
  /** Captures admitted and not yet written or failed: their slots are taken. */
  private pending = 0;

  /** Why the action may not run now, or undefined when it may. Manual requests skip the cooldown, never the cap. */
  check(kind: Gated, target: Target, now: number, manual: boolean, limits: GateLimits): string | undefined {
    if (kind === 'capture' && this.captures + this.pending >= limits.maxCapturesPerRun) {
      return `the run's capture cap (--max-captures ${limits.maxCapturesPerRun}) is reached`;
    }
    const last = this.last.get(`${kind}:${target}`);
    if (!manual && last !== undefined && now - last < limits.cooldownMs) {
      const who = target === 'tree' ? 'the tree' : `pid ${target}`;
      return `${kind} of ${who} is cooling down for ${Math.ceil((limits.cooldownMs - (now - last)) / 1000)} s`;
    }
    return undefined;
  }

  /** The action started: its cooldown runs from now, and a capture takes its slot until `settled`. */
  started(kind: Gated, target: Target, now: number): void {
    this.last.set(`${kind}:${target}`, now);
    if (kind === 'capture') this.pending++;
  }

  /** A started capture ended: only a written one keeps its slot, a failed one must not use up the run's evidence. */
  settled(written: boolean): void {
    this.pending = Math.max(0, this.pending - 1);
    if (written) this.captures++;
  }

  /** Forgets isolates that are gone (`live`: their isolate keys), so the map stays as small as the tree. */
  retain(live: ReadonlySet<string>): void {
    for (const key of this.last.keys()) {
      const target = key.slice(key.indexOf(':') + 1);
      if (target !== 'tree' && !live.has(target)) this.last.delete(key);
    }
  }
}
