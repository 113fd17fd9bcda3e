import { describe, expect, it } from 'vitest';
import { agentEnv, agentNodeOptions, quoteNodeOption, REGISTRY_SOCKET_ENV, type LaunchOptions } from '../../src/supervisor/lifecycle/launch.js';

const base: LaunchOptions = { heapLimitMb: 64, reportDir: '/r', stateDir: '/s', supervisorPid: 1 };

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
    expect(agentNodeOptions(' --no-warnings --max-old-space-size=100 ', { ...base, heapLimitMb: 512, reportDir: '/s/reports' })).toBe(
      '--no-warnings --max-old-space-size=100 --max-old-space-size=512 --report-on-fatalerror --report-directory=/s/reports',
    );
  });
  it('preloads the probe when instrumenting, and opens no inspector', () => {
    expect(agentNodeOptions(undefined, { ...base, probePath: '/a b/probe.cjs' })).toBe(
      '--max-old-space-size=64 --report-on-fatalerror --report-directory=/r --require="/a b/probe.cjs"',
    );
  });
  it('sets the registry socket only when there is one, and never leaks a stale one', () => {
    expect(agentEnv({ [REGISTRY_SOCKET_ENV]: '/old' }, base)[REGISTRY_SOCKET_ENV]).toBeUndefined();
    expect(agentEnv({}, { ...base, registrySocket: '/s.sock' })[REGISTRY_SOCKET_ENV]).toBe('/s.sock');
  });
});

describe('agentEnv for a nested supervisor', () => {
  it("replaces what an outer supervisor added to NODE_OPTIONS instead of stacking a second probe and limit", () => {
    const outer = agentEnv({ NODE_OPTIONS: '--no-warnings' }, { ...base, heapLimitMb: 512, probePath: '/p.cjs' });
    const inner = agentEnv(outer, { ...base, heapLimitMb: 256, probePath: '/p.cjs' });
    expect(inner.NODE_OPTIONS).toBe('--no-warnings --max-old-space-size=256 --report-on-fatalerror --report-directory=/r --require=/p.cjs');
  });
});

describe("agentEnv under node's permission model (node could not read the probe)", () => {
  const probed = { ...base, probePath: '/p.cjs' };
  const table: [string, string[], string | undefined, boolean][] = [
    ['a plain node command', ['node', 'app.js'], undefined, true],
    ['node 20 with the model on', ['node', '--experimental-permission', '--allow-fs-read=./app.js', 'app.js'], undefined, false],
    ['node 22+ with the model on', ['/usr/local/bin/node', '--permission', 'app.js'], undefined, false],
    ["the flag as the app's own argument", ['node', 'app.js', '--permission'], undefined, true],
    ['the flag after -e code', ['node', '-e', 'run()', '--experimental-permission'], undefined, false],
    ["another command with the flag", ['deno', '--permission', 'app.js'], undefined, true],
    ["the user's NODE_OPTIONS turns it on for the whole tree", ['npm', 'start'], '--experimental-permission --allow-fs-read=*', false],
  ];
  it.each(table)('%s', (_name, argv, userOptions, withProbe) => {
    const env = agentEnv(userOptions ? { NODE_OPTIONS: userOptions } : {}, probed, argv);
    expect(env.NODE_OPTIONS!.includes('--require=/p.cjs')).toBe(withProbe);
    // What a nested supervisor strips is exactly what was added.
    expect(env.NODE_OPTIONS!.endsWith(env.CFN_SUPERVISE_NODE_OPTIONS!)).toBe(true);
  });
});

describe('agentEnv for Bun processes', () => {
  it('links every Bun process of the tree to the supervisor, over a link the user set', () => {
    expect(agentEnv({ BUN_INSPECT_CONNECT_TO: 'unix:///theirs' }, { ...base, bunLink: 'unix:///s/bun.sock' }).BUN_INSPECT_CONNECT_TO).toBe('unix:///s/bun.sock');
    expect(agentEnv({}, base).BUN_INSPECT_CONNECT_TO).toBeUndefined();
  });
});
