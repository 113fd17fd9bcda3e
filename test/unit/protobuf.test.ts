// The protobuf writer behind `analyze --pprof`, against encodings protobuf's own documentation gives.
import { describe, expect, it } from 'vitest';
import { ProtoWriter } from '../../src/analysis/protobuf.js';

const hex = (w: ProtoWriter) => Buffer.from(w.bytes()).toString('hex');

describe('ProtoWriter', () => {
  it.each([
    [1, '0801'],
    [150, '089601'],
    [300, '08ac02'],
    [2 ** 32, '088080808010'],
    [Number.MAX_SAFE_INTEGER, '08ffffffffffffff0f'],
  ])('varint field 1 = %d', (value, encoded) => {
    expect(hex(new ProtoWriter().uint(1, value))).toBe(encoded);
  });

  it('leaves zero out, as proto3 does, and writes strings, messages and packed lists length-delimited', () => {
    expect(hex(new ProtoWriter().uint(1, 0))).toBe('');
    expect(hex(new ProtoWriter().field(2, 'testing'))).toBe('120774657374696e67');
    expect(hex(new ProtoWriter().field(6, ''))).toBe('3200');
    expect(hex(new ProtoWriter().message(3, (m) => m.uint(1, 150)))).toBe('1a03089601');
    expect(hex(new ProtoWriter().packed(4, [3, 270, 86942]))).toBe('2206038e029ea705');
    expect(hex(new ProtoWriter().packed(4, []))).toBe('');
  });

  it('refuses what a varint cannot hold', () => {
    expect(() => new ProtoWriter().uint(1, -1)).toThrow(RangeError);
    expect(() => new ProtoWriter().uint(1, 1.5)).toThrow(RangeError);
  });
});
