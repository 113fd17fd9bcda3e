// `--since`: how far back a report looks, as an age (`7d`, `24h`, `30m`) or an ISO date (`2026-11-01`,
// `2026-11-01T08:00:00Z`).
import { UsageError } from '../common/errors.js';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export const DEFAULT_SINCE = '7d';

/** The start of the period in ms since the epoch; a date without a zone is UTC, as the journals' times are. */
export function parseSince(raw: string, now: number): number {
  const value = raw.trim();
  const age = /^(\d+)\s*([dhm])$/.exec(value);
  if (age) return now - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (ISO_DATE.test(value)) {
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) || value.length === 10 ? value : `${value}Z`;
    const start = Date.parse(zoned.replace(' ', 'T'));
    if (Number.isFinite(start)) {
      if (start > now) throw new UsageError(`--since ${raw} is in the future`);
      return start;
    }
  }
  throw new UsageError(`--since expects an age like 7d, 24h or 30m, or a date like 2026-11-01, got '${raw}'`);
}
