// The little of protocol buffers' wire format that writing a pprof profile takes: varints (field types int64,
// uint64, bool), length-delimited fields (strings, embedded messages, packed repeated varints). Numbers are
// JavaScript numbers: byte counts and ids stay far below 2^53.

const VARINT = 0;
const LENGTH_DELIMITED = 2;

/** One message being written, field by field; `bytes()` gives its encoding. */
export class ProtoWriter {
  private readonly chunks: number[] = [];

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a protobuf varint: ${value}`);
    let v = value;
    while (v >= 0x80) {
      this.chunks.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.chunks.push(v);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An int64/uint64/bool field; zero is proto3's default and is left out. */
  uint(field: number, value: number): this {
    if (value !== 0) {
      this.key(field, VARINT);
      this.varint(value);
    }
    return this;
  }

  /** A field of raw bytes: a string (UTF-8) or an embedded message. Written even when empty (repeated strings). */
  field(field: number, value: Uint8Array | string): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.key(field, LENGTH_DELIMITED);
    this.varint(data.length);
    for (const b of data) this.chunks.push(b);
    return this;
  }

  message(field: number, build: (w: ProtoWriter) => unknown): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.field(field, inner.bytes());
  }

  /** A repeated int64/uint64 field, packed (proto3's default encoding); nothing when empty. */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.field(field, inner.bytes());
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}
