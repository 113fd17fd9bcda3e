// --alert-exec channels with real shells: the alert JSON on stdin, the command's output in the log, its pid
// reported as it starts and ends, and a command that hangs (or leaves a background job) killed with its group.
import { readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertChannels, type AlertChannelsOptions } from '../../src/supervisor/act/channels.js';
import { isAlive, onCleanup, tempDir, trackGroup } from '../helpers/cli.js';
import { ISO_NOW, recorder, type Recorder } from './helpers.js';

const scratch = () => tempDir('cfn-channels-');

interface Spawns {
  started: number[];
  ended: number[];
}

function make(rec: Recorder, opts: Partial<AlertChannelsOptions>): { channels: AlertChannels; spawns: Spawns } {
  const spawns: Spawns = { started: [], ended: [] };
  const c = new AlertChannels({
    webhooks: [],
    exec: [],
    minLevel: 'warning',
    log: rec.log,
    onDelivery: rec.onDelivery,
    onDrop: rec.onDrop,
    onSpawn: (pid) => {
      // Its whole group, whatever happened: a background job it left is no descendant of anything tracked.
      trackGroup(pid);
      spawns.started.push(pid);
    },
    onExit: (pid) => spawns.ended.push(pid),
    ...opts,
  });
  onCleanup(() => c.close(0));
  return { channels: c, spawns };
}

/** Live (non-zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
        const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return state !== 'Z' && Number(group) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('alert commands', () => {
  it('runs the command with the alert JSON on stdin and reports its pid as it starts and ends', async () => {
    const file = path.join(scratch(), 'alert.json');
    const rec = recorder();
    const { channels: c, spawns } = make(rec, { exec: [`cat > '${file}'`] });
    c.deliver({ level: 'critical', message: 'heap at 91%', pid: 4242, metric: 'heap' });
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      ts: expect.stringMatching(ISO_NOW),
      host: hostname(),
      level: 'critical',
      message: 'heap at 91%',
      pid: 4242,
      metric: 'heap',
      text: '[critical] heap at 91%',
      content: '[critical] heap at 91%',
    });
    expect(c.names).toEqual(['exec:cat']);
    expect(spawns.started).toHaveLength(1);
    expect(spawns.ended).toEqual(spawns.started);
    expect(isAlive(spawns.started[0]!)).toBe(false);
  });

  it("writes the command's output to the log, never to this process's streams", async () => {
    const rec = recorder();
    const { channels: c } = make(rec, { exec: ['echo out-line; echo err-line >&2'] });
    c.deliver({ level: 'warning', message: 'x' });
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(rec.lines.find((l) => l.msg === 'alert command ended')).toMatchObject({ channel: 'exec:echo', code: 0, stdout: 'out-line\n', stderr: 'err-line\n' });
  });

  it('retries a command that fails, then gives up and counts it', async () => {
    const rec = recorder();
    const { channels: c, spawns } = make(rec, { exec: ['exit 3'], limits: { attempts: 2, backoffMs: 20 } });
    c.deliver({ level: 'warning', message: 'x' });
    await expect.poll(() => rec.failed[c.names[0]!], { timeout: 15_000 }).toBe(1);
    expect(spawns.started).toHaveLength(2);
    expect(rec.lines.find((l) => l.msg === 'alert not delivered; giving up')).toMatchObject({ attempts: 2, err: 'exit code 3' });
  });

  it('kills a command that hangs, with everything it started', async () => {
    const pidFile = path.join(scratch(), 'pid');
    const rec = recorder();
    const { channels: c, spawns } = make(rec, { exec: [`echo $$ > '${pidFile}'; sleep 1000; true`], limits: { attempts: 1, timeoutMs: 500 } });
    c.deliver({ level: 'warning', message: 'x' });
    await expect.poll(() => rec.failed[c.names[0]!], { timeout: 15_000 }).toBe(1);
    const shell = Number(readFileSync(pidFile, 'utf8'));
    expect(spawns.started).toEqual([shell]);
    await expect.poll(() => groupMembers(shell), { timeout: 10_000 }).toEqual([]);
    expect(rec.lines.find((l) => l.msg === 'alert not delivered; giving up')).toMatchObject({ err: 'no answer within 500 ms' });
  });

  it('leaves no background job of a command behind', async () => {
    const pidFile = path.join(scratch(), 'bg');
    const rec = recorder();
    const { channels: c } = make(rec, { exec: [`sleep 1000 & echo $! > '${pidFile}'`] });
    c.deliver({ level: 'warning', message: 'x' });
    await expect.poll(() => rec.delivered[c.names[0]!], { timeout: 15_000 }).toBe(1);
    const background = Number(readFileSync(pidFile, 'utf8'));
    await expect.poll(() => isAlive(background), { timeout: 10_000 }).toBe(false);
  });

  it('keeps secrets of the command line out of the log', () => {
    const rec = recorder();
    const { channels: c } = make(rec, { exec: ['curl -H "Authorization: Bearer abc123" -d @- https://hooks.slack.com/services/T1/B2/sekrit'] });
    expect(c.targets[0]).toBe('curl -H "Authorization: Bearer ***" -d @- https://hooks.slack.com/services/***/***/***');
  });
});
