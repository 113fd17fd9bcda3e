import { type Change, change } from './change.js';
import { AnalysisError } from './errors.js';

/** Where an allocation was sampled; line and column are 1-based, as editors and DevTools show them. */
export interface CallSite {
  readonly functionName: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

export interface SiteBytes extends CallSite {
  readonly bytes: number;
  /** Fraction (0..1) of all live sampled bytes. */
  readonly share: number;
}

export interface FunctionBytes {
  readonly functionName: string;
  readonly url: string;
  readonly bytes: number;
  readonly share: number;
}

export interface FileBytes {
  readonly url: string;
  readonly bytes: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly kind: 'heapprofile';
  readonly file: string;
  readonly totalBytes: number;
  readonly sampleCount: number;
  readonly sites: SiteBytes[];
  readonly functions: FunctionBytes[];
  readonly files: FileBytes[];
}

export interface SiteGrowth extends CallSite, Change {}

export interface ProfileDiff {
  readonly kind: 'heapprofile-diff';
  readonly files: readonly [string, string];
  readonly totalBytes: Change;
  /** Sites whose live bytes grew the most: the leak suspects. */
  readonly grew: SiteGrowth[];
}

/** Live sampled bytes per allocation site, merged over every stack the site appears in. */
export interface SiteTable {
  readonly sites: Map<string, { site: CallSite; bytes: number }>;
  readonly totalBytes: number;
  readonly sampleCount: number;
}

function invalid(what: string): AnalysisError {
  return new AnalysisError(`not a valid heap profile: ${what}`);
}

function siteKey(s: CallSite): string {
  return `${s.functionName}\u0000${s.url}\u0000${s.line}\u0000${s.column}`;
}

/** Validates the `.heapprofile` shape (`{head, samples}`) and folds its call tree into sites. */
export function readProfile(raw: unknown): SiteTable {
  const profile = raw as { head?: unknown; samples?: unknown } | null;
  if (typeof profile !== 'object' || profile === null || typeof profile.head !== 'object' || profile.head === null) {
    throw invalid('no "head" node');
  }
  const sites = new Map<string, { site: CallSite; bytes: number }>();
  let totalBytes = 0;
  // Explicit stack: call trees of deep recursion would overflow a recursive walk.
  const stack: unknown[] = [profile.head];
  while (stack.length > 0) {
    const node = stack.pop() as { callFrame?: Record<string, unknown>; selfSize?: unknown; children?: unknown };
    const frame = node?.callFrame;
    if (typeof frame !== 'object' || frame === null) throw invalid('a node has no callFrame');
    const { functionName, url, lineNumber, columnNumber } = frame;
    const selfSize = node.selfSize;
    if (
      typeof functionName !== 'string' ||
      typeof url !== 'string' ||
      typeof lineNumber !== 'number' ||
      typeof columnNumber !== 'number' ||
      typeof selfSize !== 'number' ||
      !(selfSize >= 0)
    ) {
      throw invalid('a node has a malformed callFrame or selfSize');
    }
    if (node.children !== undefined && !Array.isArray(node.children)) throw invalid('children is not a list');
    for (const child of (node.children as unknown[] | undefined) ?? []) stack.push(child);
    if (selfSize === 0) continue;
    totalBytes += selfSize;
    const site: CallSite = { functionName: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber + 1 };
    const key = siteKey(site);
    const entry = sites.get(key);
    if (entry) entry.bytes += selfSize;
    else sites.set(key, { site, bytes: selfSize });
  }
  const sampleCount = Array.isArray(profile.samples) ? profile.samples.length : 0;
  return { sites, totalBytes, sampleCount };
}

function share(bytes: number, total: number): number {
  return total > 0 ? bytes / total : 0;
}

function topBy<T extends { bytes: number }>(items: Iterable<T>, top: number): T[] {
  return [...items].sort((a, b) => b.bytes - a.bytes).slice(0, top);
}

function groupBy<K extends object>(
  table: SiteTable,
  keyOf: (s: CallSite) => string,
  make: (s: CallSite) => K,
): Map<string, K & { bytes: number }> {
  const groups = new Map<string, K & { bytes: number }>();
  for (const { site, bytes } of table.sites.values()) {
    const key = keyOf(site);
    const g = groups.get(key);
    if (g) g.bytes += bytes;
    else groups.set(key, { ...make(site), bytes });
  }
  return groups;
}

export function summarizeProfile(file: string, table: SiteTable, top: number): ProfileSummary {
  const total = table.totalBytes;
  const sites = topBy(
    [...table.sites.values()].map(({ site, bytes }) => ({ ...site, bytes })),
    top,
  ).map((s) => ({ ...s, share: share(s.bytes, total) }));
  const functions = groupBy(
    table,
    (s) => `${s.functionName}\u0000${s.url}`,
    (s) => ({ functionName: s.functionName, url: s.url }),
  );
  const files = groupBy(
    table,
    (s) => s.url,
    (s) => ({ url: s.url }),
  );
  return {
    kind: 'heapprofile',
    file,
    totalBytes: total,
    sampleCount: table.sampleCount,
    sites,
    functions: topBy(functions.values(), top).map((f) => ({ ...f, share: share(f.bytes, total) })),
    files: topBy(files.values(), top).map((f) => ({ ...f, share: share(f.bytes, total) })),
  };
}

/** Compares two profiles of one process: live bytes per site, largest growth first. */
export function diffProfiles(files: readonly [string, string], before: SiteTable, after: SiteTable, top: number): ProfileDiff {
  const grew: SiteGrowth[] = [];
  for (const [key, { site, bytes }] of after.sites) {
    const old = before.sites.get(key)?.bytes ?? 0;
    if (bytes > old) grew.push({ ...site, ...change(old, bytes) });
  }
  grew.sort((a, b) => b.delta - a.delta);
  return {
    kind: 'heapprofile-diff',
    files,
    totalBytes: change(before.totalBytes, after.totalBytes),
    grew: grew.slice(0, top),
  };
}
