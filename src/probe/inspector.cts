/*
 * The probe's in-process inspector.Session, attached only while something needs it. While any session is
 * attached every console call goes through the inspector (several times slower) and the inspector retains
 * console arguments (of the last 1000 calls, however large; benchmarks/results/design-figures.md), so by
 * default none is: a GC or a capture attaches for its duration, and sampling keeps one attached for as long
 * as it runs. Calls on an in-process session are answered synchronously, except collectGarbage, which V8 runs
 * from a task once the stack is empty, and, from Node 22 on, takeHeapSnapshot (measured on 20, 22, 24 and 26:
 * see snapshot).
 */
import type { Session } from 'node:inspector';
import { ReflectApply, SafeSetImmediate } from './probe.cjs';

export type Post = <T = unknown>(method: string, params?: object) => T;

// Console methods whose arguments the inspector retains (console.trace stays unwrapped so its printed
// stack does not gain a probe frame; the next wrapped call discards its entry).
const RETAINING_CONSOLE_METHODS = [
  'log', 'info', 'debug', 'warn', 'error', 'dir', 'dirxml', 'table', 'group', 'groupCollapsed', 'assert', 'timeLog',
] as const;
// Small primitive arguments cost little while retained, so they are discarded in batches, not per call.
const CHEAP_CALLS_PER_DISCARD = 64;
const LONG_STRING = 1024;

export class Inspector {
  private session?: Session;
  private post?: Post;
  private restoreConsole?: () => void;
  /** Uses in progress (a GC awaiting V8's task). */
  private users = 0;
  // When the probe's own collection or snapshot began and when the last one ended (performance.now()): V8
  // collects for both, several major GCs each, which are not the app's.
  private ownFrom = Infinity;
  private ownTo = -Infinity;
  /** Sampling requests of the supervisor not yet released. */
  private holds = 0;
  /** The probe's own judgement (pressure.cts) asks for sampling. */
  private pressed = false;
  /** Bytes between samples while sampling; 0 while not. */
  private interval = 0;
  /** The sampler running is the app's own (one per isolate): read, never restarted or stopped by the probe. */
  private borrowed = false;
  private snapshotting = false;
  /** Snapshots asked for while one is taken, in order (the supervisor caps captures in flight). */
  private readonly snapshotsWaiting: (() => void)[] = [];

  get attached(): boolean {
    return this.session !== undefined;
  }

  get sampling(): boolean {
    return this.interval > 0;
  }

  /** Runs `work` with a session attached, detached again after unless sampling still needs it. */
  with<T>(work: (post: Post) => T): T {
    const post = this.attach();
    try {
      return work(post);
    } finally {
      this.detachIfIdle();
    }
  }

  /**
   * A full, precise collection: V8 runs it from a task, so the session stays attached until it is done.
   * A callback, not a promise: an app may have replaced Promise.prototype.then. `done` must not throw.
   */
  collectGarbage(done: (err: Error | null) => void): void {
    this.postInUse('HeapProfiler.collectGarbage', done);
  }

  /** Whether a major GC that started at `start` (performance.now()) was one the probe asked of V8. */
  ownCollection(start: number): boolean {
    return start >= this.ownFrom && (this.users > 0 || start <= this.ownTo);
  }

  /**
   * A heap snapshot, handed over chunk by chunk as V8 makes it, then `done` (which must not throw), also when it
   * could not start. Node 20 answers inside the post; Node 22 and later from a task, the chunks too, but before
   * the loop turns again: the main thread is as blocked while V8 writes them, so each chunk is still written
   * before the next is made. One at a time (the chunks of a second would reach the first one's listener too):
   * one asked for meanwhile waits its turn, as on Node 20, where the first was over before the next was read.
   */
  snapshot(onChunk: (chunk: string) => void, done: (err: Error | null) => void): void {
    if (this.snapshotting) {
      this.snapshotsWaiting.push(() => this.snapshot(onChunk, done));
      return;
    }
    let session: Session;
    try {
      this.attach();
      session = this.session!;
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // An exception escaping a session listener is reported on the app's stderr: the first one is kept, and
    // the chunks after it are dropped (V8 cannot be stopped half-way through a snapshot).
    let failure: Error | null = null;
    const listener = (m: { params: { chunk: string } }): void => {
      if (failure) return;
      try {
        onChunk(m.params.chunk);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
    };
    session.on('HeapProfiler.addHeapSnapshotChunk', listener);
    this.snapshotting = true;
    this.postInUse('HeapProfiler.takeHeapSnapshot', (err) => {
      session.off('HeapProfiler.addHeapSnapshotChunk', listener);
      this.snapshotting = false;
      done(err ?? failure);
      // Not from inside the session's callback, like a detach.
      const next = this.snapshotsWaiting.shift();
      if (next) SafeSetImmediate(next);
    });
  }

  /**
   * A call answered later (or not: Node 20 answers a snapshot inside the post): the session stays attached
   * until the answer came, and is detached after, outside the session's own callback.
   */
  private postInUse(method: string, done: (err: Error | null) => void): void {
    this.attach();
    const session = this.session!;
    if (this.users++ === 0) this.ownFrom = performance.now();
    const finished = (err: Error | null): void => {
      this.ownTo = performance.now();
      // Disconnecting a session from inside its own callback hangs the process (measured on Node 20).
      SafeSetImmediate(() => {
        this.users--;
        try {
          this.detachIfIdle();
        } catch {
          // Called from the loop: a throw here would be the app's crash.
        }
      });
      done(err);
    };
    try {
      session.post(method, (err) => finished(err));
    } catch (err) {
      finished(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** What the sampler running has kept: ours, or the app's own, which is read and left running. */
  profile(): unknown {
    try {
      return this.with((post) => post<{ profile: unknown }>('HeapProfiler.getSamplingProfile')).profile;
    } catch (err) {
      // The sampler is the isolate's: an app with its own session can stop it under us.
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`no sampling profile to read (${why}): an inspector session of the app may have stopped the sampler`, { cause: err });
    }
  }

  /** A supervisor's hold: sampling runs until released; `fresh` restarts it so that it covers from now on. */
  hold(interval: number, fresh: boolean): boolean {
    const was = this.sampling;
    this.holds++;
    if (was && fresh && !this.borrowed) this.with((post) => post('HeapProfiler.stopSampling'));
    if (!was || fresh) this.startSampling(interval);
    return was;
  }

  release(): void {
    if (this.holds > 0) this.holds--;
    if (this.holds === 0 && !this.pressed) this.stopSampling();
  }

  /** The probe's own judgement: sampling while pressed or held. */
  press(on: boolean, interval: number): void {
    this.pressed = on;
    if (on && !this.sampling) this.startSampling(interval);
    else if (!on && this.holds === 0) this.stopSampling();
  }

  /** Everything stops: the supervisor said so, or it is gone. */
  stop(): void {
    this.holds = 0;
    this.pressed = false;
    this.stopSampling();
  }

  private startSampling(interval: number): void {
    const post = this.attach();
    try {
      // A sampler the app started answers getSamplingProfile; starting ours would be a no-op and stopping it
      // later would stop the app's.
      this.borrowed = samplerRunning(post);
      if (!this.borrowed) post('HeapProfiler.startSampling', { samplingInterval: interval });
      this.interval = interval;
    } finally {
      this.detachIfIdle();
    }
  }

  private stopSampling(): void {
    if (!this.sampling) return;
    this.interval = 0;
    try {
      if (!this.borrowed) this.post?.('HeapProfiler.stopSampling');
    } finally {
      this.borrowed = false;
      this.detachIfIdle();
    }
  }

  private attach(): Post {
    if (this.post) return this.post;
    const inspector = require('node:inspector') as typeof import('node:inspector');
    const session = new inspector.Session();
    session.connect();
    const post: Post = <T,>(method: string, params?: object): T => {
      let answered = false;
      // Set in the callback, which tsc cannot see run: typed wide so the check below is not narrowed away.
      let error = null as Error | null;
      let result: unknown;
      session.post(method, params ?? {}, (err, res) => {
        answered = true;
        error = err;
        result = res;
      });
      if (!answered) throw new Error(`${method}: the inspector did not answer synchronously`);
      if (error) throw error;
      return result as T;
    };
    this.session = session;
    this.post = post;
    this.restoreConsole = installConsoleDiscard(() => {
      try {
        post('Runtime.discardConsoleEntries');
      } catch {
        // Detached meanwhile: nothing is retained any more.
      }
    });
    post('HeapProfiler.enable');
    return post;
  }

  private detachIfIdle(): void {
    if (this.sampling || this.users > 0 || !this.session) return;
    const session = this.session;
    try {
      this.post?.('Runtime.discardConsoleEntries');
    } catch {
      // Retained entries go with the session anyway.
    }
    this.restoreConsole?.();
    this.session = undefined;
    this.post = undefined;
    this.restoreConsole = undefined;
    try {
      session.disconnect();
    } catch {
      // Already disconnected.
    }
  }
}

function samplerRunning(post: Post): boolean {
  try {
    post('HeapProfiler.getSamplingProfile');
    return true;
  } catch {
    // "V8 sampling heap profiler was not started."
    return false;
  }
}

/**
 * Each retaining console call is followed by Runtime.discardConsoleEntries (a synchronous in-process post, cheap
 * beside the console call), immediately when an argument can be large, in batches otherwise. Installed only while
 * attached.
 */
function installConsoleDiscard(discard: () => void): () => void {
  let cheapCalls = 0;
  const target = console as unknown as Record<string, unknown>;
  const installed: [string, unknown, unknown][] = [];
  for (const name of RETAINING_CONSOLE_METHODS) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    const wrapper = {
      [name](this: unknown, ...args: unknown[]): unknown {
        try {
          return ReflectApply(original as (...a: unknown[]) => unknown, this, args);
        } finally {
          if (mayRetainMuch(args) || ++cheapCalls >= CHEAP_CALLS_PER_DISCARD) {
            cheapCalls = 0;
            discard();
          }
        }
      },
    }[name];
    target[name] = wrapper;
    installed.push([name, original, wrapper]);
  }
  return () => {
    for (const [name, original, wrapper] of installed) {
      // An app that re-assigned the method since keeps its own.
      if (target[name] === wrapper) target[name] = original;
    }
  };
}

function mayRetainMuch(args: unknown[]): boolean {
  for (const a of args) {
    if ((typeof a === 'object' && a !== null) || typeof a === 'function') return true;
    if (typeof a === 'string' && a.length >= LONG_STRING) return true;
  }
  return false;
}
