// The analysis API as built: the piscina worker is the compiled dist/analysis/worker.js (npm test builds first).
import type * as Api from '../../src/analysis/index.js';

export const api = (await import(new URL('../../dist/analysis/index.js', import.meta.url).href)) as typeof Api;
