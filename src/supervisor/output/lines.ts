// Bytes of an agent's stream into the lines its log keeps: split at each newline, a line too long for the log
// cut into pieces, what follows the last newline held until more comes or the stream ends. Bounded: at most
// maxBytes are held between chunks. Pure: no I/O, no clock.

export interface Line {
  text: string;
  /** Not ended by a newline: cut for its length, or the last bytes of a stream that ended without one. */
  partial?: true;
}

export class LineSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The lines `chunk` completes, in order. */
  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.hold(chunk.subarray(start, nl), lines);
      lines.push({ text: this.take() });
      start = nl + 1;
    }
    this.hold(chunk.subarray(start), lines);
    return lines;
  }

  /** What the stream left after its last newline. */
  end(): Line[] {
    return this.heldBytes > 0 ? [{ text: this.take(), partial: true }] : [];
  }

  /** Keeps `part`, giving out a cut line each time what is held reaches maxBytes. */
  private hold(part: Buffer, lines: Line[]): void {
    while (this.heldBytes + part.length > this.maxBytes) {
      const room = this.maxBytes - this.heldBytes;
      this.held.push(part.subarray(0, room));
      this.heldBytes += room;
      lines.push({ text: this.take(), partial: true });
      part = part.subarray(room);
    }
    if (part.length === 0) return;
    this.held.push(part);
    this.heldBytes += part.length;
  }

  private take(): string {
    const text = this.held.length === 1 ? this.held[0]!.toString('utf8') : Buffer.concat(this.held, this.heldBytes).toString('utf8');
    this.held = [];
    this.heldBytes = 0;
    return text;
  }
}

/** The last `max` items pushed. */
export class Tail<T> {
  private readonly items: T[] = [];

  constructor(private readonly max: number) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.max) this.items.shift();
  }

  get(): T[] {
    return [...this.items];
  }
}
