import { type Change, change } from './change.js';
import { AnalysisError } from './errors.js';

/** Where an allocation was sampled; line and column are 1-based, as editors and DevTools show them. */
export interface CallSite {
  readonly functionName: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

/**
 * Builtins (frames without a url: `repeat`, `push`, `JSON.parse`) that allocated on a site's behalf, largest
 * first. A site is the nearest caller with a url, so that the ranking names the code that can be changed.
 */
export interface Attributed {
  readonly via?: string[];
}

export interface SiteBytes extends CallSite, Attributed {
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
  /** Why there is nothing to rank, when a profile holds no live sampled allocation. */
  readonly note?: string;
  readonly sites: SiteBytes[];
  readonly functions: FunctionBytes[];
  readonly files: FileBytes[];
}

export interface SiteGrowth extends CallSite, Change, Attributed {}

export interface ProfileDiff {
  readonly kind: 'heapprofile-diff';
  readonly files: readonly [string, string];
  readonly totalBytes: Change;
  /** Why nothing can have grown, when the second profile holds no live sampled allocation. */
  readonly note?: string;
  /** Sites whose live bytes grew the most: the leak suspects. */
  readonly grew: SiteGrowth[];
}

export interface SiteEntry {
  readonly site: CallSite;
  bytes: number;
  /** Bytes per builtin that allocated on this site's behalf. */
  readonly via: Map<string, number>;
}

/** Live sampled bytes per allocation site, merged over every stack the site appears in. */
export interface SiteTable {
  readonly sites: Map<string, SiteEntry>;
  readonly totalBytes: number;
  readonly sampleCount: number;
}

export const EMPTY_PROFILE_NOTE =
  'no live sampled allocations: nothing allocated on the V8 heap since sampling started is still alive, so the heap did not grow. ' +
  'Memory growing outside the heap (Buffers, ArrayBuffers, native memory) is invisible to a profile: a heap snapshot ' +
  '(capture --snapshot) names what holds the Buffers. Only a heap growing by less than the sampling interval needs a longer capture (--seconds)';

function invalid(what: string): AnalysisError {
  return new AnalysisError(`not a valid heap profile: ${what}`);
}

function siteKey(s: CallSite): string {
  return `${s.functionName}\u0000${s.url}\u0000${s.line}\u0000${s.column}`;
}

interface Pending {
  readonly node: unknown;
  /** The nearest frame above with a url: where a builtin's allocations are charged. */
  readonly caller: CallSite | undefined;
  /** The nearest named function above with a url: what an anonymous function (a callback) is named after. */
  readonly named: string | undefined;
}

/** One node of a `.heapprofile`'s call tree, checked. */
export interface ProfileNode {
  readonly id: unknown;
  readonly functionName: string;
  readonly url: string;
  /** 0-based, as V8 gives them; -1 for V8's own frames. */
  readonly lineNumber: number;
  readonly columnNumber: number;
  readonly selfSize: number;
  readonly children: readonly unknown[];
}

/** The call tree's root, when `raw` has the `.heapprofile` shape (`{head, samples}`). */
export function profileHead(raw: unknown): unknown {
  const profile = raw as { head?: unknown } | null;
  if (typeof profile !== 'object' || profile === null || typeof profile.head !== 'object' || profile.head === null) {
    throw invalid('no "head" node');
  }
  return profile.head;
}

/** The sampled allocations (`samples`, absent in old profiles). */
export function profileSamples(raw: unknown): readonly unknown[] {
  const samples = (raw as { samples?: unknown }).samples;
  return Array.isArray(samples) ? samples : [];
}

export function profileNode(item: unknown): ProfileNode {
  const node = item as { id?: unknown; callFrame?: Record<string, unknown>; selfSize?: unknown; children?: unknown } | null;
  const frame = node?.callFrame;
  if (typeof frame !== 'object' || frame === null) throw invalid('a node has no callFrame');
  const { functionName, url, lineNumber, columnNumber } = frame;
  const selfSize = node!.selfSize;
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
  if (node!.children !== undefined && !Array.isArray(node!.children)) throw invalid('children is not a list');
  return { id: node!.id, functionName, url, lineNumber, columnNumber, selfSize, children: (node!.children as unknown[] | undefined) ?? [] };
}

/**
 * A frame of cfn-supervise's probe (dist/probe/*.cjs, a path or a file URL). What the probe allocates is its own:
 * a profile it read while sampling ran (another capture's, a moment before) is live until the next GC, and in a
 * short window of a slow leak it was the top site (`post node:inspector`).
 */
const PROBE_FRAME = /(?:^|\/)dist\/probe\/[\w-]+\.cjs$/;

/**
 * Validates the `.heapprofile` shape and folds its call tree into sites, leaving out the probe's own allocations. Bytes allocated
 * in a frame without a url go to the nearest caller with one, the builtin kept as `via`; with no such caller
 * (`(V8 API)`, `(GC)` under the root) the frame stays its own site. An anonymous function is named after the
 * nearest named one that called it, `(anonymous in rememberTurn)`: a callback's line alone is hard to place.
 */
export function readProfile(raw: unknown): SiteTable {
  const sites = new Map<string, SiteEntry>();
  let totalBytes = 0;
  // Explicit stack: call trees of deep recursion would overflow a recursive walk.
  const stack: Pending[] = [{ node: profileHead(raw), caller: undefined, named: undefined }];
  while (stack.length > 0) {
    const { node: item, caller, named } = stack.pop()!;
    const { functionName, url, lineNumber, columnNumber, selfSize, children } = profileNode(item);
    if (PROBE_FRAME.test(url)) continue;
    const name = functionName || (url && named ? `(anonymous in ${named})` : '(anonymous)');
    const own: CallSite = { functionName: name, url, line: lineNumber + 1, column: columnNumber + 1 };
    const below = url ? own : caller;
    const namedBelow = url && functionName ? functionName : named;
    for (const child of children) stack.push({ node: child, caller: below, named: namedBelow });
    if (selfSize === 0) continue;
    totalBytes += selfSize;
    const site = below ?? own;
    const key = siteKey(site);
    let entry = sites.get(key);
    if (!entry) {
      entry = { site, bytes: 0, via: new Map() };
      sites.set(key, entry);
    }
    entry.bytes += selfSize;
    if (site !== own) entry.via.set(own.functionName, (entry.via.get(own.functionName) ?? 0) + selfSize);
  }
  return { sites, totalBytes, sampleCount: profileSamples(raw).length };
}

/** The builtins of a site, largest first; absent when the site allocated everything itself. */
function viaOf(entry: SiteEntry): Attributed {
  if (entry.via.size === 0) return {};
  return { via: [...entry.via].sort((a, b) => b[1] - a[1]).map(([name]) => name) };
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
    [...table.sites.values()].map((entry) => ({ ...entry.site, bytes: entry.bytes, ...viaOf(entry) })),
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
    ...(total === 0 ? { note: EMPTY_PROFILE_NOTE } : {}),
    sites,
    functions: topBy(functions.values(), top).map((f) => ({ ...f, share: share(f.bytes, total) })),
    files: topBy(files.values(), top).map((f) => ({ ...f, share: share(f.bytes, total) })),
  };
}

/** Compares two profiles of one process: live bytes per site, largest growth first. */
export function diffProfiles(files: readonly [string, string], before: SiteTable, after: SiteTable, top: number): ProfileDiff {
  const grew: SiteGrowth[] = [];
  for (const [key, entry] of after.sites) {
    const old = before.sites.get(key)?.bytes ?? 0;
    if (entry.bytes > old) grew.push({ ...entry.site, ...change(old, entry.bytes), ...viaOf(entry) });
  }
  grew.sort((a, b) => b.delta - a.delta);
  return {
    kind: 'heapprofile-diff',
    files,
    totalBytes: change(before.totalBytes, after.totalBytes),
    ...(after.totalBytes === 0 ? { note: `second profile: ${EMPTY_PROFILE_NOTE}` } : {}),
    grew: grew.slice(0, top),
  };
}
