// What the inspector-port session evaluates inside the target: JavaScript that runs in the app, with the
// command-line API's `require`.

const CLOSER_LOOK_MS = 2000;
/** How often a session renews the closer's lease where the target cannot see connections: twice per look. */
export const CLOSER_LEASE_MS = CLOSER_LOOK_MS / 2;

/**
 * The fallback closer, armed inside the target right after attaching. It runs in the app: it must never throw,
 * never keep the loop alive, and use only what it took from the command-line API while evaluating (`require`
 * exists only during the evaluation: called later, it throws into the app).
 *
 * `held`: the source of a function `(require) => () => boolean` that tells, inside the target, whether a
 * connection to the inspector's port is held (the platform's, from /proc/self/net on Linux). Without it (no
 * /proc: macOS) the closer keeps a lease instead: it evaluates to an object whose renew() the session calls
 * every CLOSER_LEASE_MS, and a look that finds no renewal since the one before counts as quiet.
 */
export function closerSource(held?: string): string {
  return `(() => {
  const inspector = require('inspector');
  // This inspector only: once closed, node may open another (a new uuid) that is not this closer's business.
  const url = inspector.url();
  let quiet = 0;
  ${held ? `const held = (${held})(require);` : 'let renewed = true;\n  const held = () => { const r = renewed; renewed = false; return r; };'}
  const look = () => {
    try {
      if (inspector.url() !== url) return;
      quiet = held() ? 0 : quiet + 1;
      if (quiet >= 2) return inspector.close();
    } catch { return; }
    setTimeout(look, ${CLOSER_LOOK_MS}).unref();
  };
  setTimeout(look, ${CLOSER_LOOK_MS}).unref();
  ${held ? '' : 'return { renew() { renewed = true; } };'}
})()`;
}

/** Called on the closer's lease object (Runtime.callFunctionOn). */
export const RENEW_SOURCE = 'function () { this.renew(); }';

/** Run inside our last call: node ends our connection itself (see the header). */
export const CLOSE_SOURCE = `require('inspector').close()`;

export const STATS_SOURCE = `(() => {
  const v8 = require('v8');
  const h = v8.getHeapStatistics();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return {
    usedHeapSize: h.used_heap_size, totalHeapSize: h.total_heap_size, heapSizeLimit: h.heap_size_limit,
    mallocedMemory: h.malloced_memory, externalMemory: h.external_memory,
    oldSpaceSize: old && old.space_size, oldSpaceUsed: old && old.space_used_size,
    nodeOptions: process.env.NODE_OPTIONS || '', execArgv: process.execArgv,
  };
})()`;
