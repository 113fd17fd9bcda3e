import { describe, expect, it } from 'vitest';
import { ALERT_METRICS, Metrics } from '../../src/supervisor/control/metrics.js';
import type { ProcessSample } from '../../src/supervisor/watch/policy.js';
import type { Trend } from '../../src/supervisor/watch/trend.js';
import { MB } from '../../src/common/units.js';
import { parseExposition, series } from '../ops/exposition.js';

const GROWTH = 'cfn_supervise_agent_process_heap_growth_bytes_per_second';
const FORECAST = 'cfn_supervise_agent_process_oom_forecast_seconds';

let nextPid = 100;
const proc = (role: string, extra: Partial<ProcessSample> = {}): ProcessSample => ({
  pid: nextPid++,
  ppid: 1,
  role,
  isAgent: role === 'agent',
  rssBytes: 50 * MB,
  heapUsed: 20 * MB,
  heapLimit: 256 * MB,
  ...extra,
});

/** A trend as the sampler carries it: trusted (a good fit) unless told. */
const trend = (mbPerMin: number, oomInMin?: number, confidence = 0.9): Trend => ({ mbPerMin, oomInMin, confidence, floorMb: 100 });

async function scrape(metrics: Metrics) {
  return parseExposition(metrics.render());
}

const value = (exp: ReturnType<typeof parseExposition>, name: string, labels: Record<string, string> = {}) => {
  const found = series(exp, name, labels);
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
};

describe('alerts_total', () => {
  it('counts by level and metric', async () => {
    const metrics = new Metrics();
    metrics.countAlert('warning', 'trend');
    metrics.countAlert('warning', 'trend');
    metrics.countAlert('critical', 'heap');
    metrics.countAlert('hard', 'limit');
    const exp = await scrape(metrics);
    expect(exp.types.get('cfn_supervise_alerts_total')).toBe('counter');
    expect(value(exp, 'cfn_supervise_alerts_total', { level: 'warning', metric: 'trend' })).toBe(2);
    expect(value(exp, 'cfn_supervise_alerts_total', { level: 'critical', metric: 'heap' })).toBe(1);
    expect(value(exp, 'cfn_supervise_alerts_total', { level: 'hard', metric: 'limit' })).toBe(1);
  });

  it('counts a call without a metric, and any metric outside the bounded set, as other', async () => {
    const metrics = new Metrics();
    metrics.countAlert('info');
    metrics.countAlert('info', 'pid-4242');
    metrics.countAlert('info', 'something new');
    const exp = await scrape(metrics);
    expect(value(exp, 'cfn_supervise_alerts_total', { level: 'info', metric: 'other' })).toBe(3);
    const metricLabels = new Set(series(exp, 'cfn_supervise_alerts_total').map((s) => s.labels.metric));
    expect([...metricLabels]).toEqual(['other']);
  });

  it('accepts every metric of the bounded set as its own label value', async () => {
    const metrics = new Metrics();
    for (const metric of ALERT_METRICS) metrics.countAlert('warning', metric);
    const exp = await scrape(metrics);
    expect(series(exp, 'cfn_supervise_alerts_total').map((s) => s.labels.metric).sort()).toEqual([...ALERT_METRICS].sort());
  });
});

describe('heap trend gauges', () => {
  it('shows the fastest growth and the soonest OOM of each role, in base units', async () => {
    const metrics = new Metrics();
    metrics.observeTick({
      processes: [
        proc('agent', { trend: trend(3, 90) }),
        proc('node:worker.js', { trend: trend(6, 40) }),
        proc('node:worker.js', { trend: trend(12, 50) }),
        proc('node:worker.js', { trend: trend(-1) }),
        proc('node:worker.js'),
      ],
    });
    const exp = await scrape(metrics);
    expect(exp.types.get(GROWTH)).toBe('gauge');
    expect(exp.types.get(FORECAST)).toBe('gauge');
    expect(value(exp, GROWTH, { role: 'agent' })).toBeCloseTo((3 * MB) / 60);
    expect(value(exp, FORECAST, { role: 'agent' })).toBe(90 * 60);
    expect(value(exp, GROWTH, { role: 'node:worker.js' })).toBeCloseTo((12 * MB) / 60);
    expect(value(exp, FORECAST, { role: 'node:worker.js' })).toBe(40 * 60);
  });

  it('has no growth series for a role without a trend, and no forecast without an OOM estimate', async () => {
    const metrics = new Metrics();
    metrics.observeTick({ processes: [proc('agent'), proc('sh', { heapUsed: undefined, heapLimit: undefined }), proc('node:a.js', { trend: trend(-0.5) })] });
    const exp = await scrape(metrics);
    expect(series(exp, GROWTH).map((s) => s.labels.role)).toEqual(['node:a.js']);
    expect(value(exp, GROWTH, { role: 'node:a.js' })).toBeCloseTo((-0.5 * MB) / 60);
    expect(series(exp, FORECAST)).toEqual([]);
  });

  it('counts a trend only when its fit is trusted, as the views show it', async () => {
    const metrics = new Metrics();
    metrics.observeTick({ processes: [proc('agent', { trend: trend(30, 5, 0.5) }), proc('node:w.js', { trend: trend(2, 60, 0.8) })] });
    const exp = await scrape(metrics);
    expect(series(exp, GROWTH).map((s) => s.labels.role)).toEqual(['node:w.js']);
  });

  it('drops the series of exited processes at the next tick', async () => {
    const metrics = new Metrics();
    metrics.observeTick({ processes: [proc('agent', { trend: trend(5, 20) }), proc('node:w.js', { trend: trend(8, 10) })] });
    metrics.observeTick({ processes: [proc('agent', { trend: trend(4, 25) })] });
    const exp = await scrape(metrics);
    expect(series(exp, GROWTH).map((s) => s.labels.role)).toEqual(['agent']);
    expect(series(exp, FORECAST).map((s) => s.labels.role)).toEqual(['agent']);
    expect(value(exp, FORECAST, { role: 'agent' })).toBe(25 * 60);
    expect(value(exp, 'cfn_supervise_agent_processes', { role: 'agent' })).toBe(1);
    expect(series(exp, 'cfn_supervise_agent_processes', { role: 'node:w.js' })).toEqual([]);
  });

  it('never labels by pid', async () => {
    const metrics = new Metrics();
    const processes = [proc('agent', { pid: 777001, trend: trend(5, 20) }), proc('node:w.js', { pid: 777002, trend: trend(1) })];
    metrics.observeTick({ processes });
    const exp = await scrape(metrics);
    for (const s of exp.samples) {
      expect(Object.keys(s.labels)).not.toContain('pid');
      expect(Object.values(s.labels).join(' ')).not.toMatch(/77700[12]/);
    }
  });
});

describe('exit and restart counters', () => {
  it('start every exit reason at 0, so the first OOM is an increase', async () => {
    const metrics = new Metrics();
    let exp = await scrape(metrics);
    for (const reason of ['clean', 'crash', 'oom', 'killed', 'stopped', 'limit']) {
      expect(value(exp, 'cfn_supervise_agent_exits_total', { reason })).toBe(0);
      expect(value(exp, 'cfn_supervise_restarts_total', { reason })).toBe(0);
    }
    expect(value(exp, 'cfn_supervise_restarts_total', { reason: 'requested' })).toBe(0);
    metrics.countExit('oom');
    metrics.countRestart('oom');
    exp = await scrape(metrics);
    expect(value(exp, 'cfn_supervise_agent_exits_total', { reason: 'oom' })).toBe(1);
    expect(value(exp, 'cfn_supervise_restarts_total', { reason: 'oom' })).toBe(1);
  });
});
