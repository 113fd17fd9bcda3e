// `cfn-supervise top`: a live view of the agent tree on the alternate screen. Whatever ends it (q, Ctrl-C,
// a signal, the supervisor going away, an exception) leaves the terminal exactly as it found it.
import { setTimeout as sleep } from 'node:timers/promises';
import { NoSupervisorError, UsageError } from '../common/errors.js';
import type { ProcessView, StatusView } from '../supervisor/control/protocol.js';
import type { ControlClient } from './client.js';
import { unitScale } from '../report/svg.js';
import { inert } from './output.js';
import { fetchStatus, processTable, statusHeader } from './view.js';

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';
const BARS = '▁▂▃▄▅▆▇█';
const SPARK_WIDTH = 24;
const MIN_REFRESH_MS = 250;
const QUIT_KEYS = new Set(['q', 'Q', '\x03', '\x04']);
const QUIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The last `width` values scaled between their own min and max, so a slow leak still shows its slope. */
export function sparkline(values: readonly number[], width = SPARK_WIDTH): string {
  return unitScale(values.slice(-width))
    .map((u) => BARS[Math.round(u * (BARS.length - 1))])
    .join('');
}

export function renderTop(status: StatusView, processes: readonly ProcessView[], columns: number, rows: number): string {
  const lines = [
    `cfn-supervise top   ${new Date().toLocaleTimeString()}   every ${status.supervisor.interval_ms} ms   q to quit`,
    ...statusHeader(status),
    '',
    ...processTable(processes, { header: 'RSS HISTORY', cell: (p) => sparkline(p.history.rss_mb) }),
  ];
  // Characters, not bytes, are what the terminal counts; every glyph used here is one column wide.
  const fitted = lines.slice(0, Math.max(1, rows - 1)).map((l) => [...inert(l, true)].slice(0, columns).join(''));
  return HOME + fitted.map((l) => l + CLEAR_LINE).join('\r\n') + CLEAR_BELOW;
}

export async function runTop(client: ControlClient): Promise<number> {
  const { stdin, stdout } = process;
  if (!stdin.isTTY || !stdout.isTTY) throw new UsageError('top needs a terminal; use `cfn-supervise status` in scripts');
  // Fetched before the screen switches, so "no supervisor" is one plain line on the normal screen.
  let view = await fetchStatus(client);

  const quit = new AbortController();
  const onKey = (data: Buffer) => {
    if ([...data.toString('utf8')].some((c) => QUIT_KEYS.has(c))) quit.abort();
  };
  const onSignal = () => quit.abort();
  const onResize = () => stdout.write(renderTop(view.status, view.processes, stdout.columns, stdout.rows));
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stdin.off('data', onKey);
    stdout.off('resize', onResize);
    for (const s of QUIT_SIGNALS) process.off(s, onSignal);
    process.off('exit', restore);
    stdin.setRawMode(false);
    stdin.pause();
    stdout.write(LEAVE);
  };

  process.on('exit', restore);
  for (const s of QUIT_SIGNALS) process.on(s, onSignal);
  stdout.write(ENTER);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.on('data', onKey);
  stdout.on('resize', onResize);
  try {
    while (!quit.signal.aborted) {
      onResize();
      await sleep(Math.max(MIN_REFRESH_MS, view.status.supervisor.interval_ms), undefined, { signal: quit.signal }).catch(() => {});
      if (quit.signal.aborted) break;
      view = await fetchStatus(client);
    }
    return 0;
  } catch (err) {
    if (err instanceof NoSupervisorError) throw new NoSupervisorError(`the supervisor in ${client.stateDir} has stopped`);
    throw err;
  } finally {
    restore();
  }
}
