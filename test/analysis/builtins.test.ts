// Issue 14: top sites name the user's code. Allocations made inside builtins (frames without a url: `repeat`,
// `push`, `JSON.parse`) are charged to their nearest caller with a url, the builtin kept as `via`; checked on
// real profiles of the bundled demo agent and of a known leak.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfileDiff, ProfileSummary } from '../../src/analysis/index.js';
import { type Captures, capture, heapProf } from './captures.js';
import { api } from './dist.js';

const demo = fileURLToPath(new URL('../../examples/leaky-agent.js', import.meta.url));

let demoProfile: string;
let strings: Captures;
beforeAll(async () => {
  // The demo caches ~2 MB of `repeat`ed strings every 200 ms; two seconds of it is plenty of samples.
  demoProfile = await heapProf([demo], { runMs: 2000 });
  strings = await capture('strings', 20_000);
}, 120_000);

afterAll(async () => {
  await api.closeSharedAnalysisPool();
});

describe('the bundled demo agent', () => {
  it("ranks the demo's own code first, with repeat as the builtin it allocated through", async () => {
    const s = (await api.analyzeFile(demoProfile)) as ProfileSummary;
    expect(s.sites[0]).toMatchObject({ url: expect.stringMatching(/examples\/leaky-agent\.js$/), via: expect.arrayContaining(['repeat']) });
    expect(s.sites[0]!.share).toBeGreaterThan(0.5);
    expect(s.sites.filter((x) => x.url === '').map((x) => x.functionName)).not.toContain('repeat');
    expect(s.files[0]?.url).toMatch(/leaky-agent\.js$/);
  });

  it('gives the alert line the caller and the builtin', async () => {
    const summary = await api.analyzeFile(demoProfile);
    expect(api.topSites(summary)[0]?.site).toMatch(/^\(anonymous in rememberTurn\) file:.*examples\/leaky-agent\.js:\d+:\d+ via (\w+, )*repeat/);
    expect(api.topSitesText(summary)[0]).toMatch(/^[\d.]+ MiB [\d.]+% .*leaky-agent\.js:\d+:\d+ via .*repeat/);
  });
});

describe('a leak that allocates in builtins', () => {
  it('is the top site of the profile', async () => {
    const s = (await api.analyzeFile(strings.after.profile)) as ProfileSummary;
    expect(s.sites[0]).toMatchObject({ functionName: 'leakStrings', url: expect.stringMatching(/leaky\.mjs$/), via: expect.arrayContaining(['repeat']) });
    expect(s.functions[0]?.functionName).toBe('leakStrings');
  });

  it('grew most in the diff, with its builtins', async () => {
    const d = (await api.diffFiles(strings.before.profile, strings.after.profile)) as ProfileDiff;
    expect(d.grew[0]).toMatchObject({ functionName: 'leakStrings', via: expect.arrayContaining(['repeat']) });
    expect(api.formatReport(d)).toMatch(/^\s+1\s+\+[\d.]+ MiB .* leakStrings file:.*leaky\.mjs:\d+:\d+ via (\w+, )*repeat/m);
  });

  it('shows the builtins in their own column of the report', async () => {
    const text = api.formatReport(await api.analyzeFile(strings.after.profile));
    expect(text).toMatch(/^\s+#\s+bytes\s+share\s+function\s+location\s+via$/m);
    expect(text).toMatch(/^\s+1\s+[\d.]+ MiB\s+[\d.]+%\s+leakStrings\s+file:\S+leaky\.mjs:\d+:\d+\s+(\w+, )*repeat/m);
  });
});
