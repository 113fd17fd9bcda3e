// Issue 10, signals and the terminal, on a real terminal: a user at an interactive bash under tmux, typing
// Ctrl-C, Ctrl-Z and fg, compared with the same agent run bare.
import { mkdirSync, symlinkSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStat } from '../../src/platform/linux/stat.js';
import { CLI, fixture, tempDir, waitFor } from '../helpers/cli.js';
import { Tmux } from '../helpers/tmux.js';

const SUPERVISE = `${process.execPath} ${CLI} --min-free 0 --`;

/** An interactive bash (job control on, as at a terminal) in a fresh tmux, with `cwd` as its folder. */
function shell(name: string, cwd: string): Tmux {
  const t = new Tmux(name);
  t.start(`cd ${cwd} && exec bash --norc --noprofile -i`, { PS1: '$ ' });
  return t;
}

/** A folder with an npm package whose bin is the counter agent: `npm exec cfn-counter` as users run agents. */
function npmProject(): string {
  const dir = tempDir('cfn-term-npm-');
  const pkg = path.join(dir, 'node_modules/cfn-counter');
  mkdirSync(pkg, { recursive: true });
  mkdirSync(path.join(dir, 'node_modules/.bin'));
  writeFileSync(path.join(pkg, 'bin.js'), `#!/usr/bin/env node\n${readFileSync(fixture('terminal/counter.cjs'), 'utf8')}`);
  chmodSync(path.join(pkg, 'bin.js'), 0o755);
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'cfn-counter', version: '1.0.0', bin: { 'cfn-counter': 'bin.js' } }));
  symlinkSync('../cfn-counter/bin.js', path.join(dir, 'node_modules/.bin/cfn-counter'));
  return dir;
}

describe('Ctrl-C', () => {
  const cases: [string, string][] = [
    ['node', `node ${fixture('terminal/counter.cjs')}`],
    ['npm exec', 'npm exec --offline --yes cfn-counter'],
  ];
  it.each(cases)('reaches the agent once, as bare, behind %s; the agent owns the terminal', async (_name, agent) => {
    const dir = npmProject();
    const screens: string[] = [];
    for (const supervised of [false, true]) {
      const t = shell('ctrl-c', dir);
      try {
        t.send(`${supervised ? SUPERVISE : ''} ${agent}; echo "exited $?"`, 'Enter');
        await waitFor(() => /ready \(tty/.test(t.screen()), 30_000, 'the agent');
        t.send('C-c');
        // The list is cut short when the command died of SIGINT (as bare npm does), or it echoes its code.
        screens.push(await waitFor(() => /SIGINT #1[\s\S]*(exited \d+|\n\$\s*$)/.test(t.screen()) && t.screen(), 15_000, 'the agent to end'));
      } finally {
        t.kill();
      }
    }
    const [bare, supervised] = screens.map((s) => ({
      sigints: (s.match(/SIGINT #/g) ?? []).length,
      forced: s.includes('forcing exit'),
      tty: /ready \((tty \w+)\)/.exec(s)?.[1],
      exited: /exited (\d+)/.exec(s)?.[1],
    }));
    expect(supervised).toEqual(bare);
    expect(supervised).toMatchObject({ sigints: 1, forced: false, tty: 'tty ok' });
  });
});

describe('Ctrl-Z and fg', () => {
  it('stop the agent and the supervisor as one job, and resume both', async () => {
    const dir = tempDir('cfn-term-jobs-');
    const t = shell('jobs', dir);
    try {
      t.send(`${SUPERVISE} node ${fixture('terminal/ticker.cjs')}`, 'Enter');
      await waitFor(() => /tick 3/.test(t.screen()), 30_000, 'ticks');
      const pids = () => [...t.screen().matchAll(/^supervisor (\d+) agent (\d+)$/gm)].at(-1);
      t.send('C-z');
      await waitFor(() => /Stopped/.test(t.screen()), 15_000, 'the shell to report the job stopped');
      // The shell runs `jobs -p` and the ps of the job's processes: both are stopped.
      t.send(`echo "supervisor $(jobs -p %1) agent $(pgrep -P $(jobs -p %1) -f terminal/ticker.cjs)"`, 'Enter');
      const [, supervisor, agent] = await waitFor(pids, 10_000, 'the pids');
      expect(readStat(Number(supervisor))?.state).toBe('T');
      expect(readStat(Number(agent))?.state).toBe('T');
      const ticks = () => Number([...t.screen().matchAll(/tick (\d+)/g)].at(-1)?.[1]);
      const stoppedAt = ticks();
      t.send('fg', 'Enter');
      await waitFor(() => ticks() > stoppedAt + 3, 15_000, 'ticks after fg');
      expect(readStat(Number(supervisor))?.state).not.toBe('T');
      t.send('C-c');
      await waitFor(() => /\^C[\s\S]*\n\$\s*$/.test(t.screen()), 15_000, 'the prompt after Ctrl-C');
    } finally {
      t.kill();
    }
  });
});

describe('death by a signal', () => {
  it('looks like death by that signal: a shell loop stops on Ctrl-C as it does bare', async () => {
    const dir = tempDir('cfn-term-loop-');
    const t = shell('loop', dir);
    try {
      t.send(`for i in 1 2 3; do ${SUPERVISE} sleep 30; echo "after $i"; done; echo "loop done"`, 'Enter');
      await waitFor(() => /\$ for i/.test(t.screen()), 10_000, 'the loop to start');
      // Wait until the supervised sleep runs, then interrupt it.
      await waitFor(() => {
        try {
          return readFileSync(path.join(dir, '.cfn-supervise/ledger'), 'utf8').includes('pid ');
        } catch {
          return false;
        }
      }, 30_000, 'the agent to run');
      t.send('C-c');
      await waitFor(() => /\^C[\s\S]*\n\$\s*$/.test(t.screen()), 15_000, 'the prompt');
      expect(t.screen()).not.toMatch(/^after \d|^loop done$/m);
    } finally {
      t.kill();
    }
  });
});
