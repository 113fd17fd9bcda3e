// The example systemd unit: systemd's own checker accepts it, the real CLI accepts its ExecStart options,
// systemd waits longer than the supervisor's kill timeout before it SIGKILLs the cgroup, and its ExecStart,
// run as written against an npm install of the package, starts an agent that runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMillis } from '../../src/common/units.js';
import { ROOT, freePort, runCli, tempDir } from '../helpers/cli.js';
import { installInto, runsTheDemoAgent } from './install.js';

const UNIT = path.join(ROOT, 'examples/systemd/cfn-supervise-agent.service');

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Service keys of the unit, last assignment wins (as in systemd). */
function serviceKeys(): Map<string, string> {
  const keys = new Map<string, string>();
  let section = '';
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv && section === 'Service') keys.set(kv[1]!, kv[2]!);
  }
  return keys;
}

describe('examples/systemd/cfn-supervise-agent.service', () => {
  it.skipIf(!hasSystemdAnalyze())('passes systemd-analyze verify without a warning (skipped where systemd-analyze is not installed)', () => {
    const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });

  it('starts cfn-supervise with options the CLI accepts, and gives its kill timeout room', async () => {
    const keys = serviceKeys();
    expect(keys.get('KillMode')).toBe('mixed');
    expect(keys.get('Restart')).toBe('on-failure');
    const [env, bin, ...args] = keys.get('ExecStart')!.split(/\s+/);
    expect([env, bin]).toEqual(['/usr/bin/env', 'cfn-supervise']);
    const options = args.slice(0, args.indexOf('--'));
    expect(args.slice(args.indexOf('--') + 1).length).toBeGreaterThan(0);
    // The state dir is the one systemd creates: %S/<StateDirectory>.
    expect(options[options.indexOf('--state-dir') + 1]).toBe(`%S/${keys.get('StateDirectory')}`);

    const stateRoot = tempDir('cfn-systemd-');
    const config = await runCli(['config', '--json', ...options.map((o) => o.replace('%S', stateRoot))], { cwd: stateRoot });
    expect(config.stderr.toString()).toBe('');
    expect(config.code).toBe(0);
    const effective = JSON.parse(config.stdout.toString()) as Record<string, unknown>;
    expect(effective['state-dir']).toBe(path.join(stateRoot, 'cfn-supervise'));
    const killTimeoutMs = effective['kill-timeout'] as number;
    expect(parseMillis(keys.get('TimeoutStopSec')!)).toBeGreaterThan(killTimeoutMs);
  });

  it('runs its ExecStart as written: the supervisor starts, and so does the agent after its --', async () => {
    const root = tempDir('cfn-systemd-');
    const bin = installInto(path.join(root, 'global'));
    // %S is systemd's state root; a free metrics port, so that tests side by side never contend for the unit's.
    const port = await freePort();
    const argv = serviceKeys()
      .get('ExecStart')!
      .split(/\s+/)
      .map((word, i, all) => (all[i - 1] === '--metrics-port' ? String(port) : word.replace('%S', root)));
    await runsTheDemoAgent(argv, { cwd: root, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  });
});
