// Strings from the agent's tree (script names, titles, argv) reach the user's terminal inert: status, top,
// the text report and the supervisor's notices show a control character as `\x1b`, never raw, so a child
// cannot clear the screen or move the cursor; JSON keeps each string as it is (JSON escapes it).
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProcessView, StatusView } from '../../src/supervisor/control/protocol.js';
import { BIN, PORTABLE_BACKEND, fixture, tempDir, waitFor } from '../helpers/cli.js';
import { Tmux } from '../helpers/tmux.js';
import { startSupervised } from './supervised.js';

const ESC = '\x1b';
const SHOWN = '\\x1b[2Jevil.cjs';


describe('control sequences from the tree', () => {
  it('are shown inert by status, top, report and the notices, and kept as they are in JSON', async () => {
    const dir = tempDir('cfn-esc-');
    const script = path.join(dir, `${ESC}[2Jevil.cjs`);
    copyFileSync(fixture('views/escapes.cjs'), script);
    const exitFile = path.join(dir, 'exit-now');
    const s = await startSupervised([script, exitFile], ['--restart', 'never']);

    const json = await waitFor(async () => {
      const out = (await s.cli(['status', '--json'])).stdout.toString();
      const st = JSON.parse(out) as StatusView & { processes: ProcessView[] };
      // Under the portable backend argv is ps's (control characters shown as '?') until the probe registers its own.
      return st.processes.length >= 3 && (!PORTABLE_BACKEND || out.includes('\\u001b[2J')) && out;
    }, 20_000, 'the whole tree sampled');
    expect(json).not.toContain(ESC);
    expect(json).toContain('\\u001b[2J');

    const status = (await s.cli(['status'])).stdout.toString();
    expect(status).not.toContain(ESC);
    expect(status).toContain(SHOWN);

    const tmux = new Tmux('esc');
    try {
      tmux.start(`${BIN} top --state-dir '${s.stateDir}'`);
      const screen = await waitFor(() => {
        const text = tmux.screen();
        return text.includes('RSS HISTORY') && text.includes(SHOWN) && text;
      }, 20_000, 'top showing the tree');
      expect(screen).toContain('cfn-supervise top');
    } finally {
      tmux.kill();
    }

    writeFileSync(exitFile, '');
    const { code } = await s.supervisor.exited;
    expect(code).toBe(0);
    const notices = s.supervisor.stderr().toString();
    // The portable backend's argv comes from ps, and GNU procps' ps already shows a control character as '.'
    // (C locale) or '?'.
    const cleared = PORTABLE_BACKEND ? '[.?]\\[2J[.?]\\[H' : '\\\\x1b\\[2J\\\\x1b\\[H';
    expect(notices).toMatch(new RegExp(`${cleared}pwned-title`));
    expect(notices).toMatch(new RegExp(`${cleared}pwned-argv`));
    expect(notices).not.toContain(ESC);

    const report = await s.cli(['report']);
    expect(report.code).toBe(0);
    expect(report.stdout.toString()).toContain('evil.cjs');
    expect(report.stdout.toString() + report.stderr.toString()).not.toContain(ESC);
  }, 120_000);
});
