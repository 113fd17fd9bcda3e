// Bytes of an agent's stream into the lines its log keeps: decoded as UTF-8 (bytes that are not become U+FFFD,
// a character split across reads is joined), split at each newline by the engine's own split, a line too long
// for the log cut into pieces, what follows the last newline held until more comes or the stream ends.
// Bounded: at most maxChars are held between chunks. Pure: no I/O, no clock.
import { StringDecoder } from 'node:string_decoder';

export interface Line {
  text: string;
  /** Not ended by a newline: cut for its length, or the last bytes of a stream that ended without one. */
  partial?: true;
}

export class LineSplitter {
  private decoder = new StringDecoder('utf8');
  private held = '';

  constructor(private readonly maxChars: number) {}

  /** The lines `chunk` completes, in order. */
  push(chunk: Buffer): Line[] {
    const parts = (this.held + this.decoder.write(chunk)).split('\n');
    const lines: Line[] = [];
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.cut(parts[i]!, lines, false);
    this.held = this.cut(parts[last]!, lines, true);
    return lines;
  }

  /** What the stream left after its last newline. */
  end(): Line[] {
    const text = this.held + this.decoder.end();
    this.held = '';
    return text ? [{ text, partial: true }] : [];
  }

  /** Forgets what is held: the bytes that follow are not the rest of its line. */
  reset(): void {
    this.decoder = new StringDecoder('utf8');
    this.held = '';
  }

  /** Pushes `text` in pieces of maxChars; with `open`, keeps back (returns) the last piece, unfinished. */
  private cut(text: string, lines: Line[], open: boolean): string {
    let at = 0;
    for (; text.length - at > this.maxChars; at += this.maxChars) lines.push({ text: text.slice(at, at + this.maxChars), partial: true });
    const rest = at === 0 ? text : text.slice(at);
    if (open) return rest;
    lines.push({ text: rest });
    return '';
  }
}

/** The last `max` items pushed. */
export class Tail<T> {
  private items: T[] = [];

  constructor(private readonly max: number) {}

  push(items: readonly T[]): void {
    this.items = [...this.items, ...items.slice(-this.max)].slice(-this.max);
  }

  get(): T[] {
    return [...this.items];
  }
}

/**
 * How much of a stream the log takes: `burst` bytes at once, then `rate` bytes a second. What comes faster is
 * copied to its destination all the same, only not logged: the log must never slow the agent down, nor let one
 * flood rotate away everything before it.
 */
export class LogBudget {
  private tokens: number;
  private at: number | undefined;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Whether `bytes` read at `now` (ms) may be logged. */
  take(bytes: number, now: number): boolean {
    if (this.at !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }
}
