// The process table from ps, in the columns GNU procps and BSD ps (macOS) both accept: one call for the whole
// table per tick. Run under LC_ALL=C and TZ=UTC, so lstart reads the same on both and parses without a locale.
import { execFileSync } from 'node:child_process';
import type { TargetStatus } from '../index.js';
import type { ProcStat } from '../types.js';

/** state before lstart (5 words) and comm last (it may hold spaces): every other column is one word. */
export const PS_COLUMNS = 'pid=,ppid=,pgid=,sess=,rss=,time=,state=,lstart=,comm=';
const PS_ENV = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
const PS_TIMEOUT_MS = 5000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * CPU time in 1/100 s from `time`: GNU `[DD-]HH:MM:SS` (whole seconds), BSD `[[DD-]HH:]MM:SS.cc`. The fraction
 * is kept where BSD gives it; GNU's whole seconds make a CPU percentage over one 2 s tick coarse.
 */
export function parseCpuTime(text: string): number | undefined {
  const m = /^(?:(\d+)-)?([\d:]+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const seconds = m[2]!.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  const fraction = m[3] ? Math.round(Number(`0.${m[3]}`) * 100) : 0;
  return (Number(m[1] ?? 0) * 86400 + seconds) * 100 + fraction;
}

/** lstart in C locale and UTC (`Sun Dec  6 16:13:37 2026`) as seconds since 1970; with the pid, an identity. */
export function parseLstart(words: readonly string[]): number | undefined {
  const [, month, day, clock, year] = words;
  const mon = MONTHS.indexOf(month ?? '');
  const hms = /^(\d+):(\d+):(\d+)$/.exec(clock ?? '');
  if (mon < 0 || !hms || !day || !year) return undefined;
  const ms = Date.UTC(Number(year), mon, Number(day), Number(hms[1]), Number(hms[2]), Number(hms[3]));
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/**
 * One line of `ps -o ${PS_COLUMNS}`. BSD's state is a letter and flags (`Ss+`; `E`: trying to exit); BSD's
 * `U` (uninterruptible wait) is Linux's `D`.
 * RSS stays in KiB (the backend's page is 1 KiB); BSD ps gives no thread count (0).
 */
export function parsePsLine(line: string): ProcStat | undefined {
  const w = line.trim().split(/\s+/);
  if (w.length < 13) return undefined;
  const [pid, ppid, pgid, sid, rss] = w.slice(0, 5).map(Number) as [number, number, number, number, number];
  const cpuTicks = parseCpuTime(w[5]!);
  const startTime = parseLstart(w.slice(7, 12));
  const flags = w[6]!;
  if ([pid, ppid, pgid, sid, rss].some((n) => !Number.isInteger(n)) || cpuTicks === undefined || startTime === undefined) return undefined;
  const state = flags.charAt(0) === 'U' ? 'D' : flags.charAt(0);
  const name = /^\s*(?:\S+\s+){12}(.*)$/.exec(line)?.[1]?.trim() ?? '';
  return {
    pid,
    ppid,
    pgid,
    sid,
    rssPages: rss,
    cpuTicks,
    state,
    startTime,
    comm: commName(name),
    threads: 0,
    exiting: flags.slice(1).includes('E'),
  };
}

/** BSD's comm may be the executable's path: its last part is the name. */
const commName = (name: string) => (name.includes('/') ? name.slice(name.lastIndexOf('/') + 1) : name);

/** Pure: `ps -o uid=,state=,comm= -p <pid>`, what a refusal to attach needs; undefined when there is no row. */
export function parseTargetStatus(text: string): TargetStatus | undefined {
  const m = /^(\d+)\s+(\S+)\s+(.*)$/.exec(text.trim());
  return m ? { uid: Number(m[1]), state: m[2]!.charAt(0) === 'U' ? 'D' : m[2]!.charAt(0), comm: commName(m[3]!.trim()) } : undefined;
}

export function parsePs(text: string): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  for (const line of text.split('\n')) {
    const p = parsePsLine(line);
    if (p) procs.set(p.pid, p);
  }
  return procs;
}

/** ps with the C locale and UTC: what it printed, and whether it exited 0. */
function execPs(args: readonly string[]): { text: string; ok: boolean } {
  try {
    return { text: execFileSync('ps', args, { encoding: 'utf8', env: PS_ENV, timeout: PS_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 }), ok: true };
  } catch (err) {
    return { text: (err as { stdout?: string }).stdout ?? '', ok: false };
  }
}

/** What ps printed; '' or less when it fails (a `-p` whose process is gone exits 1, and that is an answer). */
export const runPs = (args: readonly string[]): string => execPs(args).text;

/** A look at every process, or undefined when ps failed (timed out, killed, could not fork): no answer at all. */
function psAll(args: readonly string[]): string | undefined {
  const { text, ok } = execPs(args);
  return ok ? text : undefined;
}

/**
 * The flag that makes ps print each process's environment after its arguments: BSD ps (macOS) has -E, GNU
 * procps the BSD-style `e` (its -e means every process, as -A).
 */
export const envFlag = (os: NodeJS.Platform): string => (os === 'darwin' ? '-E' : 'e');

/**
 * Pure: the pids of `ps -o pid=,args=` rows printed with environments whose words hold `mark` (NAME=value) as
 * one word. An argument or a value that holds the same text with spaces around it is taken for it: the mark is
 * a run's id, which no one types.
 */
export function parseMarked(text: string, mark: string): Set<number> {
  const pids = new Set<number>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.slice(1).includes(mark)) pids.add(Number(words[0]));
  }
  pids.delete(NaN);
  return pids;
}

/** One ps over every process with its environment: the user's own processes show theirs (root's: all). */
export function psMarked(mark: string): Set<number> | undefined {
  const text = psAll(['-A', envFlag(process.platform), '-ww', '-o', 'pid=,args=']);
  return text === undefined ? undefined : parseMarked(text, mark);
}

/** The whole table, or undefined when ps failed or printed a table without this very process (cut short). */
export function psTable(): Map<number, ProcStat> | undefined {
  const text = psAll(['-A', '-o', PS_COLUMNS]);
  const table = text === undefined ? undefined : parsePs(text);
  return table?.has(process.pid) ? table : undefined;
}
export const psOne = (pid: number): ProcStat | undefined => parsePs(runPs(['-o', PS_COLUMNS, '-p', String(pid)])).get(pid);
