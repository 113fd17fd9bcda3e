// The pure parts of the inspector-port path: reading /proc/net/tcp{,6} tables and the monitor's verdict.
import { describe, expect, it } from 'vitest';
import { parseListeners } from '../../src/platform/linux/sockets.js';
import { connectHost } from '../../src/platform/types.js';
import { verdictOf } from '../../src/cli/monitor.js';
import type { TrendRule } from '../../src/supervisor/watch/policy.js';

// Lines as Linux writes them on a little-endian machine (x86-64, arm64).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:240D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000030a964f5 100 0 0 10 0
   1: 0100007F:240D 0100007F:B08B 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 00000000e111b1ce 20 4 30 10 -1
   2: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1574 1 0000000030a964f5 100 0 0 10 0
   3: 0100007F:D29A 0100007F:240D 06 00000000:00000000 03:0000002D 00000000     0        0 0 3 00000000e111b1ce
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:240D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4244 1 0000000000000000 100 0 0 10 0
   3: 000080FE00000000FF005450ED5C0FFE:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4245 1 0000000000000000 100 0 0 10 0
`;

describe('parseListeners', () => {
  it('keeps the listening sockets of an IPv4 table, with address, port and inode', () => {
    expect(parseListeners(TCP)).toEqual([
      { address: '127.0.0.1', port: 9229, inode: '31337' },
      { address: '0.0.0.0', port: 2024, inode: '1574' },
    ]);
  });

  it('writes IPv6 addresses as people do', () => {
    expect(parseListeners(TCP6).map((l) => [l.address, l.port])).toEqual([
      ['::1', 9229],
      ['::', 8080],
      ['::ffff:127.0.0.1', 8081],
      ['fe80::5054:ff:fe0f:5ced', 8082],
    ]);
  });

  it('reaches wildcard listeners on loopback', () => {
    expect(['0.0.0.0', '::', '::ffff:127.0.0.1', '127.0.0.1', '::1'].map(connectHost)).toEqual(['127.0.0.1', '::1', '127.0.0.1', '127.0.0.1', '::1']);
  });
});

describe('verdictOf', () => {
  const rule: TrendRule = { trendWindowMs: 300_000, trendMinMbPerMin: 2, trendHorizonMin: 240 };
  const trend = (mbPerMin: number, confidence: number, oomInMin?: number) => ({ mbPerMin, confidence, floorMb: 100, ...(oomInMin === undefined ? {} : { oomInMin }) });

  it('says leaking exactly when the supervisor would raise its trend alert', () => {
    expect(verdictOf(trend(10, 0.95, 60), rule)).toBe('leaking');
    expect(verdictOf(trend(10, 0.5, 60), rule)).toBe('growing');
    expect(verdictOf(trend(10, 0.95, 600), rule)).toBe('growing');
    expect(verdictOf(trend(1.5, 0.95, 60), rule)).toBe('growing');
    expect(verdictOf(trend(0.5, 0.95, 600), rule)).toBe('stable');
    expect(verdictOf(trend(-3, 0.95), rule)).toBe('stable');
    expect(verdictOf(undefined, rule)).toBe('unknown');
  });
});
