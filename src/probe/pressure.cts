/*
 * What the heap looks like after each major GC: the true floor of a leak trend (sent to the supervisor), and
 * the probe's own decision to start sampling at the first sign of pressure, without waiting for a supervisor
 * tick. Sampling (about free at its default interval) keeps only allocations still alive, so it must run
 * before the heap gets critical for a fast leak's profile to name the leak before the OOM.
 */
import { StormGuard } from './gc-storm.cjs';
import { SafeClearTimeout, SafeSetTimeout } from './probe.cjs';

export interface GcPoint {
  used: number;
  /** Epoch ms at the end of the collection. */
  at: number;
}

export type Verdict = { sample: true; why: 'pressure' | 'rising-floor' } | { sample: false; why: 'relief' } | undefined;

/** A floor that rose at every one of this many major GCs, by more than the margin in all, is a leak starting. */
const FLOORS = 3;
const MIN_RISE_BYTES = 4 * 1024 * 1024;
const MIN_RISE_OF_LIMIT = 0.01;

/**
 * Decides after each major GC. Starts sampling at the pressure fraction or on a rising floor; stops only once
 * the heap fell well below the pressure (under half of it) with the floor no longer rising, so that a heap
 * hovering near the line does not flap. After the supervisor stopped it, waits for that low point before
 * starting again.
 */
export class Judge {
  private readonly floors: number[] = [];
  private on = false;
  private suppressed = false;

  observe(used: number, limit: number, pressure: number, enabled: boolean): Verdict {
    this.floors.push(used);
    if (this.floors.length > FLOORS) this.floors.shift();
    const fraction = used / limit;
    const rising = this.rising(limit);
    const low = fraction < pressure / 2 && !rising;
    if (this.suppressed) {
      if (low) this.suppressed = false;
      return undefined;
    }
    if (!this.on && enabled && (fraction >= pressure || rising)) {
      this.on = true;
      return { sample: true, why: fraction >= pressure ? 'pressure' : 'rising-floor' };
    }
    if (this.on && (low || !enabled)) {
      this.on = false;
      return { sample: false, why: 'relief' };
    }
    return undefined;
  }

  /** The supervisor stopped sampling: not again before the heap was low. */
  stopped(): void {
    this.on = false;
    this.suppressed = true;
  }

  private rising(limit: number): boolean {
    const f = this.floors;
    if (f.length < FLOORS) return false;
    for (let i = 1; i < f.length; i++) if (f[i]! <= f[i - 1]!) return false;
    return f[f.length - 1]! - f[0]! > Math.max(MIN_RISE_BYTES, MIN_RISE_OF_LIMIT * limit);
  }
}

/**
 * Calls `onMajor` with the end time of the latest of the app's major GCs in each batch the observer delivers,
 * except while the observer is paused after a storm of them (StormGuard). `own` tells the probe's own
 * collections (a forced GC, a snapshot: several majors each) by their start (performance.now()): left out.
 */
export function watchMajorGcs(onMajor: (at: number) => void, own: (start: number) => boolean): () => void {
  const { PerformanceObserver, constants } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const guard = new StormGuard();
  let resume: NodeJS.Timeout | undefined;
  const observe = (): void => observer.observe({ entryTypes: ['gc'] });
  const observer = new PerformanceObserver((list) => {
    try {
      let end = 0;
      let pause = 0;
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind !== constants.NODE_PERFORMANCE_GC_MAJOR || own(e.startTime)) continue;
        const at = e.startTime + e.duration;
        end = Math.max(end, at);
        pause = Math.max(pause, guard.seen(performance.timeOrigin + at));
      }
      if (end > 0) onMajor(Math.round(performance.timeOrigin + end));
      if (pause > 0 && !resume) {
        observer.disconnect();
        resume = SafeSetTimeout(() => {
          resume = undefined;
          try {
            observe();
          } catch {
            // Called from the loop: a throw here would be the app's crash.
          }
        }, pause);
        resume.unref();
      }
    } catch {
      // An observer callback that throws would be the app's uncaught exception.
    }
  });
  observe();
  return () => {
    SafeClearTimeout(resume);
    resume = undefined;
    observer.disconnect();
  };
}

/** Passes at most one point per `everyMs`: the first at once, then the latest one at the end of each period. */
export class Throttle {
  private lastSent = -Infinity;
  private held?: GcPoint;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly everyMs: number,
    private readonly send: (p: GcPoint) => void,
  ) {}

  push(p: GcPoint): void {
    const wait = this.lastSent + this.everyMs - Date.now();
    if (wait <= 0 && !this.timer) {
      this.emit(p);
      return;
    }
    this.held = p;
    if (!this.timer) {
      this.timer = SafeSetTimeout(() => {
        this.timer = undefined;
        const held = this.held;
        this.held = undefined;
        try {
          if (held) this.emit(held);
        } catch {
          // Called from the loop: a throw here would be the app's crash.
        }
      }, wait);
      this.timer.unref();
    }
  }

  close(): void {
    SafeClearTimeout(this.timer);
    this.timer = undefined;
    this.held = undefined;
  }

  private emit(p: GcPoint): void {
    this.lastSent = Date.now();
    this.send(p);
  }
}
