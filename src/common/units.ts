// Parsers for the units the supervisor's options are expressed in. Each returns a number in the option's
// base unit or throws UsageError with a message that names the expected form.

import { UsageError } from './errors.js';

/** Bytes in a megabyte as every option and journal counts them (MiB: what /proc and V8 report). */
export const MB = 1048576;
/** Whole megabytes, as thresholds and journals carry them. */
export const wholeMb = (bytes: number): number => Math.round(bytes / MB);
/** Megabytes to one decimal, as views show them. */
export const tenthsMb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

const MB_FACTORS: Record<string, number> = { '': 1, mb: 1, m: 1, gb: 1024, g: 1024, kb: 1 / 1024, k: 1 / 1024 };
const MS_FACTORS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const BYTE_FACTORS: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2 };

function withFactor(raw: string, factors: Record<string, number>, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z/]*)\s*$/i.exec(raw);
  const factor = m ? factors[m[2]!.toLowerCase()] : undefined;
  if (!m || factor === undefined) throw new UsageError(`expected ${what}, got '${raw}'`);
  return Number(m[1]) * factor;
}

export const parseMegabytes = (raw: string): number => withFactor(raw, MB_FACTORS, 'megabytes like 512 or 2GB');
export const parseMillis = (raw: string): number =>
  Math.round(withFactor(raw, MS_FACTORS, 'milliseconds like 500, 2s or 1m'));
const S_FACTORS: Record<string, number> = { '': 1, s: 1, m: 60, min: 60, h: 3600 };
export const parseSeconds = (raw: string): number => withFactor(raw, S_FACTORS, 'seconds like 300 or 5m');
export const parseMinutes = (raw: string): number => withFactor(raw, { '': 1, min: 1, m: 1, h: 60 }, 'minutes like 240 or 4h');
export const parseRate = (raw: string): number => withFactor(raw, { '': 1, 'mb/min': 1 }, 'MB per minute like 2');
export const parseBytes = (raw: string): number =>
  Math.round(withFactor(raw, BYTE_FACTORS, 'bytes like 524288 or 512KB'));

export function parseCount(raw: string): number {
  if (!/^\s*\d+\s*$/.test(raw)) throw new UsageError(`expected a whole number, got '${raw}'`);
  return Number(raw);
}

export function parseFraction(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new UsageError(`expected a fraction between 0 and 1 like 0.85, got '${raw}'`);
  }
  return n;
}

export function parseBoolean(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UsageError(`expected true or false, got '${raw}'`);
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (raw: string): T => {
    const v = raw.trim() as T;
    if (!choices.includes(v)) throw new UsageError(`expected one of ${choices.join(', ')}, got '${raw}'`);
    return v;
  };
}
