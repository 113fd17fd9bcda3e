// The requests one probe has yet to answer: each with a silence timeout that progress re-arms and a total cap
// that nothing re-arms, so neither a silent nor a chatty probe can hold a caller forever.
import { ProbeError, TimeoutError } from '../../common/errors.js';

export interface RequestOptions {
  /** Silence allowed: progress messages re-arm it. */
  timeoutMs: number;
  /** The request's whole duration, progress or not; default timeoutMs. */
  totalMs?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Pending {
  what: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  silence?: NodeJS.Timeout;
  cap?: NodeJS.Timeout;
  timeoutMs: number;
  onProgress?: (done: number, total: number) => void;
}

export class PendingRequests {
  private readonly byId = new Map<number, Pending>();

  /** `pid`: the peer's, which its registration must match; the errors name it. */
  constructor(private readonly pid: number) {}

  get size(): number {
    return this.byId.size;
  }

  /** Settles when the reply with `id` arrives, or fails on a timeout or failAll. */
  add<T>(id: number, what: string, ro: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        what,
        resolve: resolve,
        reject,
        timeoutMs: ro.timeoutMs,
        ...(ro.onProgress ? { onProgress: ro.onProgress } : {}),
      };
      this.byId.set(id, p);
      this.rearm(id, p);
      const totalMs = ro.totalMs ?? ro.timeoutMs;
      p.cap = setTimeout(() => this.fail(id, new TimeoutError(this.pid, `${what} (its total time cap)`, totalMs)), totalMs).unref();
    });
  }

  progress(id: number, done: unknown, total: unknown): void {
    const p = this.byId.get(id);
    if (!p) return;
    this.rearm(id, p);
    if (typeof done === 'number' && typeof total === 'number') p.onProgress?.(done, total);
  }

  /** The probe's reply: its error as a ProbeError, or its result. */
  settle(id: number, error: unknown, result: unknown): void {
    const p = this.take(id);
    if (!p) return;
    if (typeof error === 'string') p.reject(new ProbeError(this.pid, `${p.what}: ${error}`));
    else p.resolve(result);
  }

  failAll(why: string): void {
    for (const id of [...this.byId.keys()]) {
      const p = this.take(id);
      p?.reject(new ProbeError(this.pid, `${p.what}: ${why}`));
    }
  }

  private rearm(id: number, p: Pending): void {
    clearTimeout(p.silence);
    p.silence = setTimeout(() => this.fail(id, new TimeoutError(this.pid, p.what, p.timeoutMs)), p.timeoutMs).unref();
  }

  private fail(id: number, err: Error): void {
    this.take(id)?.reject(err);
  }

  private take(id: number): Pending | undefined {
    const p = this.byId.get(id);
    if (!p) return undefined;
    this.byId.delete(id);
    clearTimeout(p.silence);
    clearTimeout(p.cap);
    return p;
  }
}
