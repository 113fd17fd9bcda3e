import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from '../../src/supervisor/control/exposition.js';
import { parseExposition, series } from '../ops/exposition.js';

describe('the text exposition', () => {
  it('writes HELP and TYPE once per family, then one line per label set in first-seen order', () => {
    const registry = new Registry();
    const g = registry.add(new Gauge('x_bytes', 'bytes of x', ['role']));
    g.inc({ role: 'b' }, 2);
    g.inc({ role: 'a' }, 1);
    g.inc({ role: 'b' }, 3);
    expect(registry.render()).toBe('# HELP x_bytes bytes of x\n# TYPE x_bytes gauge\nx_bytes{role="b"} 5\nx_bytes{role="a"} 1\n');
  });

  it('escapes label values and help text, and writes infinities as Prometheus does', () => {
    const registry = new Registry();
    const g = registry.add(new Gauge('y', 'a \\ b\nc', ['role']));
    g.set({ role: 'say "hi"\\\n' }, Infinity);
    g.set({ role: 'low' }, -Infinity);
    const text = registry.render();
    expect(text).toContain('# HELP y a \\\\ b\\nc\n');
    expect(text).toContain('y{role="say \\"hi\\"\\\\\\n"} +Inf\n');
    const exp = parseExposition(text);
    expect(series(exp, 'y', { role: 'say "hi"\\\n' })[0]?.value).toBe(Infinity);
    expect(series(exp, 'y', { role: 'low' })[0]?.value).toBe(-Infinity);
  });

  it('shows a family without labels at 0 before anything is fed, and one with labels with no series', () => {
    const registry = new Registry();
    registry.add(new Gauge('up', 'up'));
    registry.add(new Counter('events_total', 'events', ['kind']));
    expect(registry.render()).toBe('# HELP up up\n# TYPE up gauge\nup 0\n# HELP events_total events\n# TYPE events_total counter\n');
  });

  it('forgets every series on reset, so that exited processes drop out of the next scrape', () => {
    const registry = new Registry();
    const g = registry.add(new Gauge('rss', 'rss', ['role']));
    g.inc({ role: 'old' }, 1);
    g.reset();
    g.inc({ role: 'new' }, 1);
    expect(series(parseExposition(registry.render()), 'rss').map((s) => s.labels.role)).toEqual(['new']);
  });

  it('reads a collected value at each scrape', () => {
    const registry = new Registry();
    let n = 1;
    registry.add(new Counter('cpu_seconds_total', 'cpu', [], () => n));
    expect(registry.render()).toContain('\ncpu_seconds_total 1\n');
    n = 2.5;
    expect(registry.render()).toContain('\ncpu_seconds_total 2.5\n');
  });

  it('refuses to count down', () => {
    const c = new Counter('c_total', 'c', ['k']);
    expect(() => c.inc({ k: 'a' }, -1)).toThrow(/only goes up/);
    expect(() => c.inc({ k: 'a' }, Number.NaN)).toThrow(/only goes up/);
  });

  it('writes cumulative buckets, +Inf, sum and count of a histogram', () => {
    const registry = new Registry();
    const h = registry.add(new Histogram('d_seconds', 'd', [0.1, 1]));
    for (const v of [0.05, 0.5, 0.7, 3]) h.observe(v);
    const exp = parseExposition(registry.render());
    expect(exp.types.get('d_seconds')).toBe('histogram');
    expect(series(exp, 'd_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 1],
      ['1', 3],
      ['+Inf', 4],
    ]);
    expect(series(exp, 'd_seconds_sum')[0]?.value).toBeCloseTo(4.25);
    expect(series(exp, 'd_seconds_count')[0]?.value).toBe(4);
  });
});
