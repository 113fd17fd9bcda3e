// The dashboard's pure parts: who is served, the sparklines' trails and points, the icicle's layout.
import { describe, expect, it } from 'vitest';
import { CAPTURE_FILE } from '../../src/cli/dashboard-feed.js';
import { type Asked, COOKIE, cookieValue, judge } from '../../src/cli/dashboard-gate.js';
import { TRAIL, Trails, peaks } from '../../src/cli/dashboard-trails.js';
import { parsePort } from '../../src/cli/dashboard.js';
import { icicleLayout } from '../../src/report/icicle.js';
import { sparkPoints, unitScale } from '../../src/report/svg.js';
import { captureName } from '../../src/supervisor/journal/captures.js';
import type { ProcessView } from '../../src/supervisor/control/protocol.js';

const TOKEN = 'a'.repeat(43);
const PORT = 4321;
const asked = (over: Partial<Asked>): Asked => ({
  method: 'GET',
  host: `127.0.0.1:${PORT}`,
  origin: undefined,
  cookie: undefined,
  queryToken: null,
  headerToken: undefined,
  pathname: '/',
  ...over,
});

describe('judge', () => {
  const cases: [string, Partial<Asked>, number | 'ok' | 'ok+cookie'][] = [
    ['the page with the token in its URL sets the cookie', { queryToken: TOKEN }, 'ok+cookie'],
    ['localhost is the same server', { host: `localhost:${PORT}`, queryToken: TOKEN }, 'ok+cookie'],
    ['a Host header in capitals is the same name', { host: `LOCALHOST:${PORT}`, queryToken: TOKEN }, 'ok+cookie'],
    ['the page with its cookie', { cookie: `other=1; ${COOKIE}=${TOKEN}` }, 'ok'],
    ['events with the cookie', { pathname: '/events', cookie: `${COOKIE}=${TOKEN}` }, 'ok'],
    ['nothing at all', {}, 401],
    ['a wrong token', { queryToken: 'b'.repeat(43) }, 401],
    ['a token of another length', { queryToken: TOKEN.slice(1) }, 401],
    ['the query token opens only the page', { pathname: '/events', queryToken: TOKEN }, 401],
    ['another name rebound to 127.0.0.1', { host: `evil.example:${PORT}`, queryToken: TOKEN }, 403],
    ['another port', { host: '127.0.0.1:80', queryToken: TOKEN }, 403],
    ['no Host', { host: undefined, queryToken: TOKEN }, 403],
    ['another origin', { origin: 'http://evil.example', cookie: `${COOKIE}=${TOKEN}` }, 403],
    ['a POST with the header', { method: 'POST', pathname: '/api/gc', headerToken: TOKEN, origin: `http://127.0.0.1:${PORT}` }, 'ok'],
    ['a POST with the cookie alone (a forged form)', { method: 'POST', pathname: '/api/gc', cookie: `${COOKIE}=${TOKEN}` }, 401],
    ['a POST with the query token alone', { method: 'POST', queryToken: TOKEN }, 401],
    ['a PUT', { method: 'PUT', headerToken: TOKEN }, 405],
  ];
  it.each(cases)('%s', (_name, over, expected) => {
    const v = judge(asked(over), TOKEN, PORT);
    if (expected === 'ok' || expected === 'ok+cookie') expect(v).toEqual({ ok: true, setCookie: expected === 'ok+cookie' });
    else expect(v).toMatchObject({ ok: false, status: expected });
  });

  it('reads one cookie among others', () => {
    expect(cookieValue(`a=1; ${COOKIE}=x; b=2`, COOKIE)).toBe('x');
    expect(cookieValue(`x${COOKIE}=y`, COOKIE)).toBeUndefined();
    expect(cookieValue(undefined, COOKIE)).toBeUndefined();
  });
});

describe('parsePort', () => {
  it.each([
    [undefined, 0],
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ])('%s → %s', (raw, port) => expect(parsePort(raw)).toBe(port));
  it.each(['x', '-1', '65536', '1.5', ''])('refuses %j', (raw) => expect(() => parsePort(raw)).toThrow(/--port: expected a port/));
});

const proc = (pid: number, rss: number, heap?: number, external?: number): ProcessView => ({
  pid,
  ppid: 1,
  role: 'agent',
  rss_mb: rss,
  level: 'ok',
  history: { rss_mb: [rss - 2, rss - 1, rss] },
  ...(heap === undefined ? {} : { heap_used_mb: heap }),
  ...(external === undefined ? {} : { external_mb: external }),
});

describe('trails', () => {
  it('starts from the supervisor history, keeps at most TRAIL values and forgets ended processes', () => {
    const t = new Trails();
    t.record([proc(1, 10, 5, 1), proc(2, 20)]);
    expect(t.sparks(1).rss.split(' ')).toHaveLength(3);
    expect(t.sparks(1).heap.split(' ')).toHaveLength(1);
    expect(t.sparks(2).heap).toBe('');
    for (let i = 0; i < TRAIL * 2; i++) t.record([proc(1, 10 + i, 5, 1)]);
    expect(t.size).toBe(1);
    expect(t.sparks(2).rss).toBe('');
    expect(t.sparks(1).rss.split(' ').length).toBeLessThanOrEqual(60);
  });

  it('thins to the peak of each slice', () => {
    expect(peaks([1, 9, 2, 3, 8, 1], 3)).toEqual([9, 3, 8]);
    expect(peaks([1, 2], 5)).toEqual([1, 2]);
  });
});

describe('sparkPoints', () => {
  it('spans the width, high values at the top, a flat line at the bottom', () => {
    expect(sparkPoints([1, 3, 2], 100, 22)).toBe('0.0,21.0 50.0,1.0 100.0,11.0');
    expect(sparkPoints([5, 5], 10, 22)).toBe('0.0,21.0 10.0,21.0');
    expect(sparkPoints([], 10, 22)).toBe('');
    expect(unitScale([2, 4, 3])).toEqual([0, 1, 0.5]);
  });
});

const node = (name: string, self: number, children: unknown[] = [], url = 'file:///app/x.js') => ({ callFrame: { functionName: name, url, lineNumber: 4 }, selfSize: self, children });

describe('icicleLayout', () => {
  it('makes each frame as wide as the bytes at and under it, beside its siblings, widest first', () => {
    const cells = icicleLayout(node('(root)', 0, [node('small', 10), node('big', 20, [node('leaf', 50)])], ''));
    expect(cells.map((c) => [c.label, c.depth, c.x, c.width])).toEqual([
      ['all live sampled bytes', 0, 0, 1],
      ['big x.js:5', 1, 0, 70 / 80],
      ['small x.js:5', 1, 70 / 80, 10 / 80],
      ['leaf x.js:5', 2, 0, 50 / 80],
    ]);
  });

  it('leaves out hairlines, and holds its depth and cell count on a deep tree', () => {
    expect(icicleLayout(node('(root)', 0, [node('big', 10_000), node('tiny', 1)])).map((c) => c.label)).not.toContain('tiny x.js:5');
    let deep = node('bottom', 1);
    for (let i = 0; i < 20_000; i++) deep = node(`f${i}`, 0, [deep]);
    const cells = icicleLayout(deep, { maxDepth: 40 });
    expect(cells).toHaveLength(40);
    expect(icicleLayout(node('(root)', 0, Array.from({ length: 100 }, (_, i) => node(`f${i}`, 1))), { maxCells: 10 })).toHaveLength(10);
  });

  it('draws nothing for a profile with no live bytes or no head', () => {
    expect(icicleLayout(node('(root)', 0))).toEqual([]);
    expect(icicleLayout(null)).toEqual([]);
  });
});

describe('capture names', () => {
  it('match what the supervisor names its captures, and nothing with a path in it', () => {
    expect(CAPTURE_FILE.test(captureName(1234, 'heap critical', 'heapprofile'))).toBe(true);
    expect(CAPTURE_FILE.test(captureName(1234, 'manual', 'heapsnapshot'))).toBe(true);
    expect(CAPTURE_FILE.test(`../${captureName(1, 'x', 'heapprofile')}`)).toBe(false);
    expect(CAPTURE_FILE.test(`${captureName(1, 'x', 'heapprofile')}.summary.json`)).toBe(false);
  });
});
