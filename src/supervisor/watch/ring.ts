// A fixed-capacity history: the supervisor keeps the last N samples of each process and nothing more.
export class Ring<T> {
  private items: T[] = [];
  private start = 0;

  constructor(private capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('a ring needs room for at least one item');
  }

  /** Keeps the newest items that fit: a longer trend window needs a longer history, a shorter one frees it. */
  resize(capacity: number): void {
    if (!(capacity >= 1)) throw new RangeError('a ring needs room for at least one item');
    this.items = this.toArray().slice(-capacity);
    this.start = 0;
    this.capacity = capacity;
  }

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  get size(): number {
    return this.items.length;
  }

  last(): T | undefined {
    return this.items.length === 0 ? undefined : this.items[(this.start + this.items.length - 1) % this.items.length];
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}
