// The report's arithmetic, on journal records already read: a builder fed one record at a time, so a week of
// journals never sits in memory. What it keeps grows with the number of runs, roles, days and distinct sites,
// not with the number of lines: percentiles come from histograms, growth from one peak per run and role.
import { siteText } from '../analysis/format.js';
import { type Growth, type RunPeak, acrossRuns } from './growth.js';
import { type Recommendations, recommend } from './recommend.js';
import type { AlertLine, CaptureSummary, ProcessLine, RunLine } from './records.js';
import { Histogram, type Percentiles, percentiles } from './stats.js';

export interface DayStats {
  /** UTC, as the journals' times are. */
  readonly date: string;
  runs: number;
  /** Runs that were restarts of an earlier one. */
  restarts: number;
  oom: number;
  limit: number;
  crash: number;
  /** Runs per exit reason (clean, crash, oom, killed, stopped, limit, supervisor-lost). */
  readonly reasons: Record<string, number>;
  uptimeSeconds: number;
  /** Between a run's end and its restart's start: the agent was down while the supervisor ran. */
  downtimeSeconds: number;
  /** uptime ÷ (uptime + downtime); null without runs. */
  availability: number | null;
  /** Alerts per level, capture analyses left out. */
  readonly alerts: Record<string, number>;
  /** Processes of the tree that memory ended, by cause (oom, limit, oom-kill), whatever their run's end. */
  readonly members: Record<string, number>;
}

export interface SeriesPoint {
  readonly t: string;
  readonly rssMb: number;
  readonly heapMb?: number;
}

export interface RoleStats {
  readonly role: string;
  /** `runs`: the whole tree per run, from runs.jsonl; `processes`: one record per process. */
  readonly source: 'runs' | 'processes';
  readonly count: number;
  readonly runs: number;
  readonly rssMb: Percentiles | null;
  readonly heapMb: Percentiles | null;
  /** Processes of this role that memory ended, by cause (oom, limit, oom-kill). */
  readonly ends: Record<string, number>;
  /** Of the per-run peak heap when every run has one (what a leak moves), else of the peak RSS. */
  readonly growth: Growth | null;
  /** The per-run peaks, oldest first: memory over time. */
  readonly series: SeriesPoint[];
}

export interface Culprit {
  /** `function url:line:column`, as analyze and the alert lines write a site. */
  readonly site: string;
  readonly via: string[];
  /** Captures in which this was the top allocation site. */
  timesTop: number;
  /** Captures in which it was among the top five. */
  appearances: number;
  maxShare: number;
  lastSeen: string;
}

export interface Report {
  readonly since: string;
  readonly until: string;
  readonly totals: Omit<DayStats, 'date'>;
  readonly days: DayStats[];
  readonly roles: RoleStats[];
  readonly culprits: { readonly captures: number; readonly sites: Culprit[] };
  readonly recommendations: Recommendations;
}

/** The whole tree per run, from runs.jsonl. */
export const TREE_ROLE = 'run (whole tree)';
const CULPRITS = 10;
const SITES_PER_CAPTURE = 5;
const MEMORY_ENDINGS = new Set(['oom', 'limit', 'oom-kill']);

const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

function emptyDay(date: string): DayStats {
  return { date, runs: 0, restarts: 0, oom: 0, limit: 0, crash: 0, reasons: {}, uptimeSeconds: 0, downtimeSeconds: 0, availability: null, alerts: {}, members: {} };
}

const bump = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

interface RunPeaks {
  t: number;
  rss: number;
  heap?: number;
}

class RoleAccumulator {
  count = 0;
  readonly rss = new Histogram();
  readonly heap = new Histogram();
  readonly perRun = new Map<string, RunPeaks>();
  readonly ends: Record<string, number> = {};

  constructor(
    readonly role: string,
    readonly source: RoleStats['source'],
  ) {}

  add(runId: string, t: number, rss: number, heap: number | undefined): void {
    this.count++;
    this.rss.add(rss);
    if (heap !== undefined) this.heap.add(heap);
    const run = this.perRun.get(runId);
    if (!run) {
      this.perRun.set(runId, { t, rss, ...(heap !== undefined ? { heap } : {}) });
      return;
    }
    run.t = Math.max(run.t, t);
    run.rss = Math.max(run.rss, rss);
    if (heap !== undefined) run.heap = Math.max(run.heap ?? 0, heap);
  }

  stats(): RoleStats {
    const runs = [...this.perRun.values()].sort((a, b) => a.t - b.t);
    const heapEveryRun = runs.length > 0 && runs.every((r) => r.heap !== undefined);
    const peaks: RunPeak[] = runs.map((r) => ({ t: r.t, mb: heapEveryRun ? r.heap! : r.rss }));
    return {
      role: this.role,
      source: this.source,
      count: this.count,
      runs: runs.length,
      rssMb: percentiles(this.rss),
      heapMb: percentiles(this.heap),
      ends: { ...this.ends },
      growth: acrossRuns(heapEveryRun ? 'heap' : 'rss', peaks) ?? null,
      series: runs.map((r) => ({ t: new Date(r.t).toISOString(), rssMb: r.rss, ...(r.heap !== undefined ? { heapMb: r.heap } : {}) })),
    };
  }
}

/** `fn url:line:col` without its builtins: one culprit however its allocations went through them. */
function splitSite(text: string): { site: string; via: string[] } {
  const at = text.indexOf(' via ');
  return at < 0 ? { site: text, via: [] } : { site: text.slice(0, at), via: text.slice(at + 5).split(', ') };
}

/**
 * Feed runs first (processes are judged by how their run ended), then processes, alerts and captures, each
 * in time order; then `build`.
 */
export class ReportBuilder {
  private readonly days = new Map<string, DayStats>();
  private readonly roles = new Map<string, RoleAccumulator>();
  private readonly tree = new RoleAccumulator(TREE_ROLE, 'runs');
  private readonly runEndings = new Map<string, string>();
  private previousRun?: RunLine;
  private readonly healthyProcessRss = new Histogram();
  private readonly healthyProcessHeap = new Histogram();
  private readonly healthyTreeRss = new Histogram();
  private heapLimitMb?: number;
  private memoryEndedRuns = 0;
  private readonly culprits = new Map<string, Culprit>();
  /** Analysed captures seen in alerts.jsonl, by capture file: used when their summary file is gone. */
  private readonly alertCaptures = new Map<string, AlertLine>();
  private readonly summarised = new Set<string>();
  private captures = 0;

  constructor(
    private readonly since: number,
    private readonly until: number,
  ) {}

  private day(t: number): DayStats {
    const date = dayOf(t);
    let day = this.days.get(date);
    if (!day) {
      day = emptyDay(date);
      this.days.set(date, day);
    }
    return day;
  }

  addRun(run: RunLine): void {
    const day = this.day(run.t);
    day.runs++;
    bump(day.reasons, run.reason);
    if (run.reason === 'oom') day.oom++;
    if (run.reason === 'limit') day.limit++;
    if (run.reason === 'crash') day.crash++;
    day.uptimeSeconds += run.durationSeconds;
    if (run.restarts > 0) {
      day.restarts++;
      // One supervisor at a time holds a state dir: the line before a restart is the run it restarted.
      const previous = this.previousRun;
      const gap = previous && run.restarts > previous.restarts ? run.t - run.durationSeconds * 1000 - previous.t : -1;
      if (gap >= 0) day.downtimeSeconds += gap / 1000;
    }
    this.previousRun = run;
    this.runEndings.set(run.runId, run.reason);
    this.tree.add(run.runId, run.t, run.peakMb, undefined);
    if (MEMORY_ENDINGS.has(run.reason)) this.memoryEndedRuns++;
    else this.healthyTreeRss.add(run.peakMb);
  }

  addProcess(p: ProcessLine): void {
    let role = this.roles.get(p.role);
    if (!role) {
      role = new RoleAccumulator(p.role, 'processes');
      this.roles.set(p.role, role);
    }
    role.add(p.runId, p.t, p.peakRssMb, p.peakHeapMb);
    if (p.cause) {
      bump(role.ends, p.cause);
      bump(this.day(p.t).members, p.cause);
    }
    if (p.heapLimitMb !== undefined) this.heapLimitMb = Math.max(this.heapLimitMb ?? 0, p.heapLimitMb);
    if (MEMORY_ENDINGS.has(this.runEndings.get(p.runId) ?? '')) return;
    this.healthyProcessRss.add(p.peakRssMb);
    if (p.peakHeapMb !== undefined) this.healthyProcessHeap.add(p.peakHeapMb);
  }

  addAlert(a: AlertLine): void {
    if (a.metric === 'capture') {
      if (a.file && a.topSites) this.alertCaptures.set(a.file, a);
      return;
    }
    bump(this.day(a.t).alerts, a.level);
  }

  addCapture(c: CaptureSummary): void {
    this.captures++;
    this.summarised.add(c.summary.file);
    this.countCulprits(
      c.t,
      c.summary.sites.slice(0, SITES_PER_CAPTURE).map((s) => ({ site: siteText({ ...s, via: [] }), via: s.via ?? [], share: s.share })),
    );
  }

  private countCulprits(t: number, sites: readonly { site: string; via: string[]; share: number }[]): void {
    sites.forEach((s, rank) => {
      let c = this.culprits.get(s.site);
      if (!c) {
        c = { site: s.site, via: [], timesTop: 0, appearances: 0, maxShare: 0, lastSeen: new Date(t).toISOString() };
        this.culprits.set(s.site, c);
      }
      if (rank === 0) c.timesTop++;
      c.appearances++;
      c.maxShare = Math.max(c.maxShare, s.share);
      for (const v of s.via) if (!c.via.includes(v)) c.via.push(v);
      if (t >= Date.parse(c.lastSeen)) c.lastSeen = new Date(t).toISOString();
    });
  }

  build(): Report {
    for (const [file, a] of this.alertCaptures) {
      if (this.summarised.has(file)) continue;
      this.captures++;
      this.countCulprits(
        a.t,
        (a.topSites ?? []).slice(0, SITES_PER_CAPTURE).map((s) => ({ ...splitSite(s.site), share: s.share })),
      );
    }
    this.alertCaptures.clear();
    const days = [...this.days.values()].sort((a, b) => a.date.localeCompare(b.date));
    for (const d of days) d.availability = availability(d);
    const totals = emptyDay('');
    for (const d of days) {
      for (const k of ['runs', 'restarts', 'oom', 'limit', 'crash', 'uptimeSeconds', 'downtimeSeconds'] as const) totals[k] += d[k];
      for (const [k, v] of Object.entries(d.reasons)) totals.reasons[k] = (totals.reasons[k] ?? 0) + v;
      for (const [k, v] of Object.entries(d.alerts)) totals.alerts[k] = (totals.alerts[k] ?? 0) + v;
      for (const [k, v] of Object.entries(d.members)) totals.members[k] = (totals.members[k] ?? 0) + v;
    }
    totals.availability = availability(totals);
    for (const d of [...days, totals]) {
      d.uptimeSeconds = Math.round(d.uptimeSeconds * 1000) / 1000;
      d.downtimeSeconds = Math.round(d.downtimeSeconds * 1000) / 1000;
    }
    const { date: _date, ...total } = totals;
    const accumulators = [...this.roles.values()].sort((a, b) => b.count - a.count || a.role.localeCompare(b.role));
    const roles = [this.tree, ...accumulators].filter((r) => r.count > 0).map((r) => r.stats());
    return {
      since: new Date(this.since).toISOString(),
      until: new Date(this.until).toISOString(),
      totals: total,
      days,
      roles,
      culprits: {
        captures: this.captures,
        sites: [...this.culprits.values()]
          .sort((a, b) => b.timesTop - a.timesTop || b.appearances - a.appearances || b.maxShare - a.maxShare)
          .slice(0, CULPRITS),
      },
      recommendations: recommend({
        processRecords: accumulators.reduce((n, r) => n + r.count, 0),
        processRss: percentiles(this.healthyProcessRss),
        processHeap: percentiles(this.healthyProcessHeap),
        treeRss: percentiles(this.healthyTreeRss),
        ...(this.heapLimitMb !== undefined ? { heapLimitMb: this.heapLimitMb } : {}),
        runs: this.tree.count,
        memoryEndedRuns: this.memoryEndedRuns,
        leakingRoles: roles.filter((r) => r.growth?.leak).map((r) => r.role),
      }),
    };
  }
}

function availability(d: DayStats): number | null {
  const up = d.uptimeSeconds;
  if (d.runs === 0) return null;
  return up + d.downtimeSeconds > 0 ? Math.round((up / (up + d.downtimeSeconds)) * 10_000) / 10_000 : 1;
}
