import { describe, expect, it } from 'vitest';
import { agentEnv, agentNodeOptions, quoteNodeOption, REGISTRY_SOCKET_ENV } from '../../src/supervisor/lifecycle/launch.js';

describe('quoteNodeOption', () => {
  const table: [string, string][] = [
    ['/plain/path.cjs', '/plain/path.cjs'],
    ['/with space/p.cjs', '"/with space/p.cjs"'],
    ['/q"uote', '"/q\\"uote"'],
    ['C:\\dir', '"C:\\\\dir"'],
  ];
  it.each(table)('%s → %s', (raw, quoted) => expect(quoteNodeOption(raw)).toBe(quoted));
});

describe('agentNodeOptions', () => {
  it('appends to what the user has, ours last', () => {
    expect(agentNodeOptions(' --no-warnings --max-old-space-size=100 ', { heapLimitMb: 512, reportDir: '/s/reports' })).toBe(
      '--no-warnings --max-old-space-size=100 --max-old-space-size=512 --report-on-fatalerror --report-directory=/s/reports',
    );
  });
  it('preloads the probe when instrumenting, and opens no inspector', () => {
    expect(agentNodeOptions(undefined, { heapLimitMb: 64, reportDir: '/r', probePath: '/a b/probe.cjs' })).toBe(
      '--max-old-space-size=64 --report-on-fatalerror --report-directory=/r --require="/a b/probe.cjs"',
    );
  });
  it('sets the registry socket only when there is one, and never leaks a stale one', () => {
    expect(agentEnv({ [REGISTRY_SOCKET_ENV]: '/old' }, { heapLimitMb: 64, reportDir: '/r' })[REGISTRY_SOCKET_ENV]).toBeUndefined();
    expect(agentEnv({}, { heapLimitMb: 64, reportDir: '/r', registrySocket: '/s.sock' })[REGISTRY_SOCKET_ENV]).toBe('/s.sock');
  });
});
