/*
 * When the probe's own GC observer feeds the collections it observes, and how long it stops observing then.
 * Pure: end times of major GCs in, pauses out.
 */

// A GC observer makes node allocate an entry after each collection. On a heap held at 60 to 70% of a small
// limit (64 and 100 MB, measured on Node 20 and 24), that allocation starts V8's marking again, and the observer
// alone keeps the process collecting 20 to 25 times a second on more than a core; disconnected, the same process
// went back to a collection every few seconds. This many majors in the window is that storm (a healthy process
// collects every few seconds at most): the observer stops for a pause, doubled while storms follow one another.
const STORM_MAJORS = 8;
const STORM_WINDOW_MS = 2000;
const FIRST_PAUSE_MS = 5000;
const MAX_PAUSE_MS = 60_000;

/** Major GC end times in, pauses out: how long the observer stops after a storm of collections. */
export class StormGuard {
  private readonly recent: number[] = [];
  private pauseMs = FIRST_PAUSE_MS;
  private resumedAt = -Infinity;

  /** A major GC ended at `at` (ms): the pause to take now, or 0 to go on observing. */
  seen(at: number): number {
    this.recent.push(at);
    while (this.recent.length > 0 && this.recent[0]! <= at - STORM_WINDOW_MS) this.recent.shift();
    if (this.recent.length < STORM_MAJORS) return 0;
    this.recent.length = 0;
    // A storm soon after the last pause ended doubles the pause; a calm as long as that pause starts over.
    const pause = at - this.resumedAt < this.pauseMs ? Math.min(this.pauseMs * 2, MAX_PAUSE_MS) : FIRST_PAUSE_MS;
    this.pauseMs = pause;
    this.resumedAt = at + pause;
    return pause;
  }
}
