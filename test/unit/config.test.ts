import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, resolveConfig, type ConfigInputs } from '../../src/config/config.js';
import { memoryBoundAt } from '../../src/platform/sysmem.js';
import { fixture, tempDir } from '../helpers/cli.js';

const dir = tempDir('cfn-config-', 'file');
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
// Whatever cgroup the tests run in, the machine's defaults are what these cases check (bounds: below).
const resolve = (over: Partial<ConfigInputs>) => resolveConfig({ flags: {}, env: {}, cwd: dir, bound: null, ...over });

describe('resolveConfig in a cgroup whose limit is below the machine', () => {
  const v2 = memoryBoundAt(fixture('cgroup/v2'))!;
  it('derives the heap limit, the thresholds and min-free from the limit, and says so', () => {
    const resolved = resolve({ bound: v2 });
    expect(resolved.config).toMatchObject({ heapLimitMb: 1024, warningMb: 1024, criticalMb: 1434, hardMb: 1843, treeWarningMb: 1434, treeCriticalMb: 1741, treeHardMb: 1946, minFreeMb: 512 });
    expect(resolved.sources.heapLimitMb).toEqual({ source: 'default', from: '50% of cgroup memory.max 2048 MB' });
    expect(resolved.sources.warningMb).toEqual({ source: 'default' });
    const text = describeConfig(resolved);
    expect(text).toMatch(/heap-limit\s+1024\s+\(default, 50% of cgroup memory.max 2048 MB\)/);
    expect(text).toMatch(/tree-hard\s+1946\s+\(default, 95% of cgroup memory.max 2048 MB\)/);
  });
  it('keeps what the user set, and what is already lower', () => {
    const { config, sources } = resolve({ bound: v2, flags: { heapLimitMb: '1536', treeHardMb: '2000' }, env: { CFN_SUPERVISE_MIN_FREE: '100' } });
    expect(config).toMatchObject({ heapLimitMb: 1536, treeHardMb: 2000, minFreeMb: 100 });
    expect(sources.heapLimitMb).toEqual({ source: 'flag' });
    // A user's heap limit in NODE_OPTIONS is theirs.
    expect(resolve({ bound: v2, env: { NODE_OPTIONS: '--max-old-space-size=3000' } }).config.heapLimitMb).toBe(3000);
  });
  it('refuses a min-free above the limit, naming it', () => {
    expect(() => resolve({ bound: v2, flags: { minFreeMb: '3000' } })).toThrow(/--min-free \(3000 MB\) is above its cgroup's limit \(cgroup memory.max 2048 MB\)/);
  });
  it('a v1 group reads the same way', () => {
    const { config, sources } = resolve({ bound: memoryBoundAt(fixture('cgroup/v1'))! });
    expect(config.heapLimitMb).toBe(512);
    expect(sources.treeCriticalMb).toEqual({ source: 'default', from: '85% of cgroup memory.limit_in_bytes 1024 MB' });
  });
});

describe('resolveConfig', () => {
  it('takes defaults when nothing is given', () => {
    const { config, sources } = resolve({});
    expect(config).toMatchObject({ heapLimitMb: 4096, restart: 'on-oom', killTimeoutMs: 10_000, orphans: 'kill', probe: true, inspect: false, cooldownS: 300 });
    expect(config.stateDir).toBe(path.join(dir, '.cfn-supervise'));
    expect(sources.heapLimitMb).toEqual({ source: 'default' });
  });

  it('ranks flags over environment over file over defaults', () => {
    const cfg = file('a.yaml', 'heap-limit: 1GB\nkill-timeout: 5s\nbackoff: 200\nrestart: never\n');
    const { config, sources } = resolve({
      configFile: cfg,
      env: { CFN_SUPERVISE_KILL_TIMEOUT: '7000', CFN_SUPERVISE_BACKOFF: '300' },
      flags: { backoffMs: '400ms' },
    });
    expect(config).toMatchObject({ heapLimitMb: 1024, killTimeoutMs: 7000, backoffMs: 400, restart: 'never' });
    expect(sources).toMatchObject({ heapLimitMb: { source: 'file' }, killTimeoutMs: { source: 'env', from: 'CFN_SUPERVISE_KILL_TIMEOUT' }, backoffMs: { source: 'flag' } });
    expect(describeConfig({ config, sources })).toMatch(/kill-timeout\s+7000\s+\(env, CFN_SUPERVISE_KILL_TIMEOUT\)/);
  });

  it("accepts the seed scripts' variables as aliases with the seeds' meanings, below our own names", () => {
    expect(resolve({ env: { CLAUDE_MEMORY_LIMIT: '8192' } }).config.heapLimitMb).toBe(8192);
    expect(resolve({ env: { CLAUDE_MEMORY_LIMIT: '8192', CFN_SUPERVISE_HEAP_LIMIT: '512' } }).config.heapLimitMb).toBe(512);
    // Seconds, as the ops guide's dev profile uses it.
    expect(resolve({ env: { CLAUDE_PM_MEMORY_CHECK_INTERVAL: '1' } }).config.intervalMs).toBe(1000);
    expect(resolve({ env: { CLAUDE_PM_MEMORY_CHECK_INTERVAL: '2' } }).config.intervalMs).toBe(2000);
    // Megabytes of RSS, the skill's 6144 default.
    expect(resolve({ env: { CLAUDE_MEMORY_ALERT_THRESHOLD: '6144' } }).config.treeWarningMb).toBe(6144);
    expect(resolve({ env: { CLAUDE_MEMORY_ALERT_THRESHOLD: '3000' } }).config).toMatchObject({ treeWarningMb: 3000, treeCriticalMb: 8192 });
    expect(resolve({ env: { CLAUDE_MEMORY_MONITORING: 'false' } }).config.watch).toBe(false);
    expect(resolve({ env: { CLAUDE_PM_DISABLE_MEMORY_MONITOR: 'true' } }).config.watch).toBe(false);
    expect(resolve({ env: { CLAUDE_PM_DISABLE_MEMORY_MONITOR: 'false' } }).config.watch).toBe(true);
    expect(resolve({ env: { CLAUDE_MEMORY_DEBUG: 'true' } }).config.logLevel).toBe('debug');
    expect(resolve({ env: { CLAUDE_MEMORY_LOG_LEVEL: 'trace' } }).config.logLevel).toBe('trace');
    expect(resolve({ env: { CLAUDE_PM_MEMORY_WARNING_MB: '512', CLAUDE_PM_MEMORY_CRITICAL_MB: '1024', CLAUDE_PM_MEMORY_MAX_MB: '2048' } }).config).toMatchObject({
      warningMb: 512, criticalMb: 1024, hardMb: 2048,
    });
  });

  it('reads --cooldown in seconds everywhere: flag, environment, file', () => {
    expect(resolve({ flags: { cooldownS: '300' } }).config.cooldownS).toBe(300);
    expect(resolve({ flags: { cooldownS: '5m' } }).config.cooldownS).toBe(300);
    expect(resolve({ env: { CFN_SUPERVISE_COOLDOWN: '60' } }).config.cooldownS).toBe(60);
    expect(resolve({ configFile: file('cool.yaml', 'cooldown: 120\n') }).config.cooldownS).toBe(120);
  });

  it('has one name per option across flag, environment, file and camel case', () => {
    expect(resolve({ configFile: file('max.yaml', 'captures-max: 100\n') }).config.capturesMaxMb).toBe(100);
    expect(resolve({ configFile: file('max.json', '{"capturesMax": 200}') }).config.capturesMaxMb).toBe(200);
    expect(resolve({ env: { CFN_SUPERVISE_CAPTURES_MAX: '300' } }).config.capturesMaxMb).toBe(300);
    expect(() => resolve({ configFile: file('unit.json', '{"capturesMaxMb": 200}') })).toThrow(/unknown option 'capturesMaxMb'/);
  });

  it("keeps the heap limit the user's NODE_OPTIONS already sets, and says so", () => {
    const { config, sources } = resolve({ env: { NODE_OPTIONS: '--max-old-space-size=8192 --no-warnings' } });
    expect(config.heapLimitMb).toBe(8192);
    expect(sources.heapLimitMb).toEqual({ source: 'env', from: 'NODE_OPTIONS' });
    expect(describeConfig({ config, sources })).toMatch(/heap-limit\s+8192\s+\(env, NODE_OPTIONS\)/);
    expect(resolve({ env: { NODE_OPTIONS: '--max-old-space-size=8192' }, flags: { heapLimitMb: '1024' } }).config.heapLimitMb).toBe(1024);
    // What an outer supervisor added is not the user's choice.
    const nested = { NODE_OPTIONS: '--no-warnings --max-old-space-size=512 --report-on-fatalerror', CFN_SUPERVISE_NODE_OPTIONS: '--max-old-space-size=512 --report-on-fatalerror' };
    expect(resolve({ env: nested }).config.heapLimitMb).toBe(4096);
  });

  it('scales the defaults of a level list to the level the user set, when they would break its order', () => {
    const { config, sources } = resolve({ flags: { hardMb: '300' } });
    expect(config).toMatchObject({ warningMb: 75, criticalMb: 150, hardMb: 300 });
    expect(sources.criticalMb).toEqual({ source: 'default', from: 'scaled to --hard' });
    expect(resolve({ flags: { heapCritical: '0.6' } }).config).toMatchObject({ heapWarning: 0.494, heapCritical: 0.6, heapImminent: 0.671 });
    expect(resolve({ flags: { hardMb: '8192' } }).config).toMatchObject({ warningMb: 1024, criticalMb: 2048, hardMb: 8192 });
    expect(resolve({ flags: { treeWarningMb: '100' } }).config).toMatchObject({ treeWarningMb: 100, treeCriticalMb: 8192, treeHardMb: 0 });
    expect(resolve({ flags: { treeCriticalMb: '1000' } }).config).toMatchObject({ treeWarningMb: 750, treeCriticalMb: 1000, treeHardMb: 0 });
  });

  it('reads JSON files with camelCase keys', () => {
    expect(resolve({ configFile: file('b.json', '{"heapLimit": 300, "orphans": "keep", "probe": false}') }).config).toMatchObject({
      heapLimitMb: 300, orphans: 'keep', probe: false,
    });
  });

  it('reads per-role thresholds from a config file, checked like the global ones', () => {
    const { config } = resolve({ configFile: file('roles.yaml', 'warning: 900\nroles:\n  "node:*-worker.js":\n    warning: 100\n    critical: 200\n    hard: 300\n  agent:\n    heap-warning: 0.6\n') });
    expect(config.roles).toEqual([
      { pattern: 'node:*-worker.js', set: { warningMb: 100, criticalMb: 200, hardMb: 300 } },
      { pattern: 'agent', set: { heapWarning: 0.6 } },
    ]);
    expect(() => resolve({ configFile: file('roles-bad.yaml', 'roles:\n  agent:\n    heap-limit: 100\n') })).toThrow(/roles\.agent: 'heap-limit' cannot be set per role/);
    expect(() => resolve({ configFile: file('roles-order.yaml', 'roles:\n  agent:\n    critical: 5000\n') })).toThrow(/roles\.agent: --hard \(4096\) must be above --critical \(5000\)/);
  });

  const errors: [string, Partial<ConfigInputs>, RegExp][] = [
    ['bad megabytes', { flags: { heapLimitMb: '12 parsecs' } }, /^--heap-limit: expected megabytes/],
    ['too small', { flags: { heapLimitMb: '1' } }, /^--heap-limit: 1 is out of range/],
    ['negative count', { flags: { maxRestarts: '-1' } }, /^--max-restarts: expected a whole number/],
    ['bad boolean in env', { env: { CFN_SUPERVISE_QUIET: 'perhaps' } }, /^CFN_SUPERVISE_QUIET: expected true or false/],
    ['cap below start', { flags: { backoffMs: '5s', backoffMaxMs: '1s' } }, /--backoff-max \(1000 ms\) is below --backoff \(5000 ms\)/],
    ['levels the user set out of order', { flags: { warningMb: '500', hardMb: '400' } }, /--hard \(400\) must be above --critical \(1000\)/],
    ['unknown key in file', { configFile: 'c.yaml' }, /unknown option 'heap-limt'/],
    ['not a mapping', { configFile: 'd.yaml' }, /must be a mapping/],
    ['broken JSON', { configFile: 'e.json' }, /is not valid JSON/],
    ['missing file', { configFile: 'nope.yaml' }, /cannot read config file .*nope.yaml: ENOENT/],
    ['min-free above the machine', { flags: { minFreeMb: '1000000' } }, /--min-free \(1000000 MB\) is above this machine's total memory/],
    ['seed interval out of range', { env: { CLAUDE_PM_MEMORY_CHECK_INTERVAL: 'soon' } }, /^CLAUDE_PM_MEMORY_CHECK_INTERVAL: expected milliseconds/],
  ];
  file('c.yaml', 'heap-limt: 100\n');
  file('d.yaml', '- a\n- b\n');
  file('e.json', '{"heapLimit": ');
  it.each(errors)('%s is a clear error', (_name, inputs, message) => {
    expect(() => resolve(inputs)).toThrow(message);
  });
});
