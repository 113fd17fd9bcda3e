// A fixed-capacity history: the supervisor keeps the last N samples of each process and nothing more.

function checkCapacity(capacity: number): void {
  if (!(capacity >= 1)) throw new RangeError('a ring needs room for at least one item');
}

export class Ring<T> {
  private items: T[] = [];
  private start = 0;

  constructor(private capacity: number) {
    checkCapacity(capacity);
  }

  /** Keeps the newest items that fit: a longer trend window needs a longer history, a shorter one frees it. */
  resize(capacity: number): void {
    checkCapacity(capacity);
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

/**
 * The same for (t, v) pairs of numbers, kept in one Float64Array: a pair is 16 bytes there, where a `{ t, v }`
 * object is several times that on the heap (the object, and a boxed double for each field that holds an epoch
 * time or a large count). Every process's RSS history is such a ring: as objects it was the largest thing the
 * supervisor's heap held for each. Storage grows by doubling up to the capacity, so a
 * short-lived process does not pay for a full ring.
 */
export class PairRing {
  private data: Float64Array;
  private start = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    checkCapacity(capacity);
    this.data = new Float64Array(2 * Math.min(capacity, 8));
  }

  push(t: number, v: number): void {
    let slot: number;
    if (this.count < this.capacity) {
      // Not full yet, so start is 0 and the pairs are in order.
      if (2 * this.count === this.data.length) this.grow(Math.min(this.capacity, 2 * this.count));
      slot = this.count++;
    } else {
      slot = this.start;
      this.start = (this.start + 1) % this.capacity;
    }
    this.data[2 * slot] = t;
    this.data[2 * slot + 1] = v;
  }

  get size(): number {
    return this.count;
  }

  /** Oldest first. */
  map<T>(fn: (t: number, v: number) => T): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.start + i) % this.capacity;
      out[i] = fn(this.data[2 * slot]!, this.data[2 * slot + 1]!);
    }
    return out;
  }

  private grow(pairs: number): void {
    const data = new Float64Array(2 * pairs);
    data.set(this.data);
    this.data = data;
  }
}
