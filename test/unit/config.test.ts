import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, resolveConfig, type ConfigInputs } from '../../src/config/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cfn-config-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const resolve = (over: Partial<ConfigInputs>) => resolveConfig({ flags: {}, env: {}, cwd: dir, ...over });

describe('resolveConfig', () => {
  it('takes defaults when nothing is given', () => {
    const { config, sources } = resolve({});
    expect(config).toMatchObject({ heapLimit: 4096, restart: 'on-failure', killTimeout: 10_000, orphans: 'kill', inspect: true });
    expect(config.stateDir).toBe(path.join(dir, '.cfn-supervise'));
    expect(sources.heapLimit).toEqual({ source: 'default' });
  });

  it('ranks flags over environment over file over defaults', () => {
    const cfg = file('a.yaml', 'heap-limit: 1GB\nkill-timeout: 5s\nbackoff: 200\nrestart: never\n');
    const { config, sources } = resolve({
      configFile: cfg,
      env: { CFN_SUPERVISE_KILL_TIMEOUT: '7000', CFN_SUPERVISE_BACKOFF: '300' },
      flags: { backoff: '400ms' },
    });
    expect(config).toMatchObject({ heapLimit: 1024, killTimeout: 7000, backoff: 400, restart: 'never' });
    expect(sources).toMatchObject({ heapLimit: { source: 'file' }, killTimeout: { source: 'env', from: 'CFN_SUPERVISE_KILL_TIMEOUT' }, backoff: { source: 'flag' } });
    expect(describeConfig({ config, sources })).toMatch(/kill-timeout\s+7000\s+\(env, CFN_SUPERVISE_KILL_TIMEOUT\)/);
  });

  it('accepts the seed scripts\' variables as aliases, below our own names', () => {
    expect(resolve({ env: { CLAUDE_MEMORY_LIMIT: '8192' } }).config.heapLimit).toBe(8192);
    expect(resolve({ env: { CLAUDE_MEMORY_LIMIT: '8192', CFN_SUPERVISE_HEAP_LIMIT: '512' } }).config.heapLimit).toBe(512);
    expect(resolve({ env: { CLAUDE_PM_MEMORY_CHECK_INTERVAL: '2s' } }).config.interval).toBe(2000);
  });

  it('scales the defaults of a level list to the level the user set, when they would break its order', () => {
    const { config, sources } = resolve({ flags: { hard: '300' } });
    expect(config).toMatchObject({ warning: 75, critical: 150, hard: 300 });
    expect(sources.critical).toEqual({ source: 'default', from: 'scaled to --hard' });
    expect(resolve({ flags: { heapCritical: '0.6' } }).config).toMatchObject({ heapWarning: 0.494, heapCritical: 0.6, heapImminent: 0.671 });
    expect(resolve({ flags: { hard: '8192' } }).config).toMatchObject({ warning: 1024, critical: 2048, hard: 8192 });
    expect(resolve({ flags: { treeWarning: '100' } }).config).toMatchObject({ treeWarning: 100, treeCritical: 8192, treeHard: 0 });
    expect(resolve({ flags: { treeCritical: '1000' } }).config).toMatchObject({ treeWarning: 750, treeCritical: 1000, treeHard: 0 });
  });

  it('reads JSON files with camelCase keys', () => {
    expect(resolve({ configFile: file('b.json', '{"heapLimit": 300, "orphans": "keep", "inspect": false}') }).config).toMatchObject({
      heapLimit: 300, orphans: 'keep', inspect: false,
    });
  });

  const errors: [string, Partial<ConfigInputs>, RegExp][] = [
    ['bad megabytes', { flags: { heapLimit: '12 parsecs' } }, /^--heap-limit: expected megabytes/],
    ['too small', { flags: { heapLimit: '1' } }, /^--heap-limit: 1 is out of range/],
    ['negative count', { flags: { maxRestarts: '-1' } }, /^--max-restarts: expected a whole number/],
    ['bad boolean in env', { env: { CFN_SUPERVISE_QUIET: 'perhaps' } }, /^CFN_SUPERVISE_QUIET: expected true or false/],
    ['cap below start', { flags: { backoff: '5s', backoffMax: '1s' } }, /--backoff-max \(1000 ms\) is below --backoff \(5000 ms\)/],
    ['levels the user set out of order', { flags: { warning: '500', hard: '400' } }, /--hard \(400\) must be above --critical \(1000\)/],
    ['unknown key in file', { configFile: 'c.yaml' }, /unknown option 'heap-limt'/],
    ['not a mapping', { configFile: 'd.yaml' }, /must be a mapping/],
    ['broken JSON', { configFile: 'e.json' }, /is not valid JSON/],
    ['missing file', { configFile: 'nope.yaml' }, /cannot read config file .*nope.yaml: ENOENT/],
  ];
  file('c.yaml', 'heap-limt: 100\n');
  file('d.yaml', '- a\n- b\n');
  file('e.json', '{"heapLimit": ');
  it.each(errors)('%s is a clear error', (_name, inputs, message) => {
    expect(() => resolve(inputs)).toThrow(message);
  });
});
