// Name a slow leak within two minutes, and raise nothing for what is not one. A slow leak (heap floor
// +30 MB/min, 1 GB heap limit; benchmarks/agents/slow-leak.cjs, leaking in cacheSession) under cfn-supervise
// with its defaults (--heap-limit 1024 --min-free 0): the time from the agent's start to its first trend
// alert, and whether the capture that alert took (the 'capture analysed' line of reason heap-trend) has the
// leaking function as its top site. Then the false alarms: a sawtooth (sawtooth.cjs) and a cache that fills
// to 150 MB over its first minute and then stays full (plateau.cjs), each supervised for a few minutes, and
// the trend alerts they raised (the cache's counted only once it is full). All three agents do the same
// turns' work (agents/lib/turns.cjs), so they collect fully every second or two, as a real agent does.
import { agent, supervise } from './lib/cfn.mjs';
import { marker, waitFor, withScope } from './lib/scope.mjs';
import { goalMet, stat } from './lib/stats.mjs';

export const selfRepeating = true;
// Its figures come from GC cadence and the trend's windows, not from a quiet machine: contention only makes
// the leak slower to name.
export const quickBeside = true;

const HEAP_LIMIT_MB = 1024;
const OPTIONS = ['--heap-limit', String(HEAP_LIMIT_MB), '--min-free', '0'];
const LEAK_MB_PER_MIN = 30;
const LEAK_FUNCTION = 'cacheSession';
const SAWTOOTH = { mb: 50, seconds: 10 };
const CACHE = { mb: 150, seconds: 60 };
const GOAL_S = 90;
const TREND_CAPTURE = 'heap-trend';
// The capture's analysis runs after the alert; a minute is far more than a profile of this size needs.
const ANALYSIS_WAIT_MS = 60_000;

const raised = (a) => a.metric === 'trend' && a.level !== 'info';

/** A benchmark agent under the supervisor; `printed(word)` reads the epoch ms it printed after word. */
function start(scope, name, args = []) {
  const sup = supervise(scope, OPTIONS, ['node', agent(name), marker(name), ...args]);
  let ended = null;
  sup.exited.then((e) => (ended = e));
  const printed = (word) => Number(new RegExp(`^${word} (\\d+)$`, 'm').exec(sup.stderr())?.[1]) || null;
  /** Polls fn until truthy; null after timeoutMs; throws at once when the supervisor ended (it must not). */
  const until = (fn, timeoutMs, label) =>
    waitFor(
      () => {
        if (ended) throw new Error(`cfn-supervise (${name}) ended (${JSON.stringify(ended)}) while waiting for ${label}: ${sup.stderr().trim().slice(-300)}`);
        return fn();
      },
      { timeoutMs, periodMs: 250, label },
    ).catch((err) => {
      if (ended) throw err;
      return null;
    });
  return { sup, printed, until };
}

async function leakTrial(giveUpMs) {
  return withScope(async (scope) => {
    const { sup, printed, until } = start(scope, 'slow-leak.cjs', [String(LEAK_MB_PER_MIN)]);
    const started = await until(() => printed('start'), 60_000, 'the agent to start');
    if (!started) throw new Error(`the slow-leak agent did not start: ${sup.stderr().trim().slice(-300)}`);
    const alert = await until(() => sup.alerts().find(raised), started + giveUpMs - Date.now(), 'a trend alert');
    if (!alert) return { seconds: null, site: null, rate: null };
    const analysed = await until(() => sup.alerts().find((a) => a.metric === 'capture' && a.reason === TREND_CAPTURE), ANALYSIS_WAIT_MS, 'the trend capture analysed');
    return { seconds: (Date.parse(alert.ts) - started) / 1000, site: analysed?.top_sites?.[0]?.site ?? null, rate: alert.value };
  });
}

/**
 * Supervises a non-leaking agent for durationMs from its start: when (s after its start) it raised trend
 * alerts, when it went flat (if it says), and whether the trend was still raised at the end.
 */
async function falseAlarmTrial(name, { mb, seconds }, durationMs) {
  return withScope(async (scope) => {
    const { sup, printed, until } = start(scope, name, [String(mb), String(seconds)]);
    const started = await until(() => printed('start'), 60_000, 'the agent to start');
    if (!started) throw new Error(`${name} did not start: ${sup.stderr().trim().slice(-300)}`);
    await until(() => false, started + durationMs - Date.now(), 'the end of the observation');
    const trend = sup.alerts().filter((a) => a.metric === 'trend');
    const since = (ms) => Math.round((ms - started) / 1000);
    const flat = printed('flat');
    return { raisedAt: trend.filter(raised).map((a) => since(Date.parse(a.ts))), flatAt: flat && since(flat), raisedAtEnd: raised(trend.at(-1) ?? {}) };
  });
}

/** `cacheSession /…/slow-leak.cjs:12:27` → `cacheSession slow-leak.cjs:12:27`: the table stays narrow. */
const shortSite = (site) => (site ? site.replace(/(?:file:\/\/)?\/\S*\//g, '') : 'none');

/** Promise.all that, when one fails, still waits for the others: each has its processes to clean up. */
async function settled(promises) {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => r.value);
}

/** `2 (at 9, 31 s)`: how many, and when after the agent's start. */
const alertsAt = (seconds) => (seconds.length ? `${seconds.length} (at ${seconds.join(', ')} s)` : 0);

export async function run({ quick, repeats }) {
  const trials = quick ? 1 : repeats;
  const giveUpMs = quick ? 180_000 : 240_000;
  const watchMs = quick ? 120_000 : 180_000;
  const falseAlarms = () => settled([falseAlarmTrial('sawtooth.cjs', SAWTOOTH, watchMs), falseAlarmTrial('plateau.cjs', CACHE, watchMs)]);
  const leaks = [];
  let sawtooth;
  let plateau;
  if (quick) {
    // Everything at once: quick mode must fit in about four minutes.
    const [leak, alarms] = await settled([leakTrial(giveUpMs), falseAlarms()]);
    leaks.push(leak);
    [sawtooth, plateau] = alarms;
  } else {
    for (let i = 0; i < trials; i++) leaks.push(await leakTrial(giveUpMs));
    [sawtooth, plateau] = await falseAlarms();
  }

  const seconds = leaks.map((l) => l.seconds);
  const missed = seconds.filter((s) => s === null).length;
  const names = leaks.map((l) => (l.site?.startsWith(LEAK_FUNCTION) ? 1 : 0));
  const afterFlat = plateau.flatAt === null ? null : plateau.raisedAt.filter((s) => s >= plateau.flatAt);
  const filling = plateau.raisedAt.filter((s) => plateau.flatAt === null || s < plateau.flatAt);
  const watched = `${watchMs / 1000} s`;
  return {
    name: 'slow-leak',
    rows: [
      {
        metric: `slow leak (+${LEAK_MB_PER_MIN} MB/min, ${HEAP_LIMIT_MB} MB heap): agent start → first trend alert`,
        value: missed === seconds.length ? `none within ${giveUpMs / 1000} s` : missed ? `${JSON.stringify(stat(seconds))} + ${missed} without alert` : stat(seconds),
        unit: 's',
        goal: `≤ ${GOAL_S}`,
        'goal met': goalMet(seconds, (s) => s <= GOAL_S),
      },
      {
        metric: 'slow leak: growth the trend alert reported',
        value: stat(leaks.map((l) => l.rate)) ?? 'no alert',
        unit: 'MB/min',
        goal: `≈ ${LEAK_MB_PER_MIN}`,
        'goal met': '',
      },
      {
        metric: `slow leak: top site of the trend alert's capture (names ${LEAK_FUNCTION}?)`,
        value: [...new Set(leaks.map((l) => shortSite(l.site)))].join('; '),
        unit: '',
        goal: `starts with ${LEAK_FUNCTION}`,
        'goal met': goalMet(names, (n) => n === 1),
      },
      {
        metric: `sawtooth (${SAWTOOTH.mb} MB built over ${SAWTOOTH.seconds} s, dropped, again): trend alerts in ${watched}`,
        value: alertsAt(sawtooth.raisedAt),
        unit: 'alerts',
        goal: '0',
        'goal met': sawtooth.raisedAt.length === 0 ? 'yes' : 'no',
      },
      {
        metric: `cache filling to ${CACHE.mb} MB in ${CACHE.seconds} s, then flat: trend alerts once flat (${watched} in all)`,
        value: afterFlat ? alertsAt(afterFlat) : 'never went flat',
        unit: 'alerts',
        goal: '0',
        'goal met': afterFlat?.length === 0 ? 'yes' : 'no',
      },
      {
        metric: 'cache filling, then flat: trend alerts while filling / still raised at the end',
        value: `${alertsAt(filling)} / ${plateau.raisedAtEnd ? 'yes' : 'no'}`,
        unit: '',
        goal: 'informative',
        'goal met': '',
      },
    ],
    notes:
      `${trials} slow-leak trial(s), given up ${giveUpMs / 1000} s after the agent's start; the sawtooth and the cache once each, at the same time, ${watched} each` +
      `${quick ? ', all three agents at once (quick mode)' : ', after the slow-leak trials'}. cfn-supervise ${OPTIONS.join(' ')}, defaults otherwise. ` +
      "Agent start: its process start (performance.timeOrigin), which it prints; alert time: the alert's ts in alerts.jsonl. " +
      `Top site: top_sites[0] of the 'capture analysed' line of reason ${TREND_CAPTURE} that follows the alert (waited for up to ${ANALYSIS_WAIT_MS / 1000} s). ` +
      "The agents do the same turns (every 100 ms a 1 MB tool output read into a Buffer kept 3 s, a message built and parsed), so major GCs come every second or two; " +
      `the cache counts trend alerts raised after it printed that it was full (at ${plateau.flatAt ?? '?'} s). Alert times are seconds after the agent's start.`,
  };
}

