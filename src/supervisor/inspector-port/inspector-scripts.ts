// What the inspector-port session evaluates inside the target: JavaScript that runs in the app, with the
// command-line API's `require`.

const CLOSER_LOOK_MS = 2000;

/**
 * The fallback closer, armed inside the target right after attaching. It runs in the app: it must never throw,
 * never keep the loop alive, and use only what it took from the command-line API while evaluating (`require`
 * exists only during the evaluation: called later, it throws into the app).
 */
export function closerSource(port: number): string {
  return `(() => {
  const fs = require('fs');
  const inspector = require('inspector');
  // This inspector only: once closed, node may open another (a new uuid) that is not this closer's business.
  const url = inspector.url();
  let quiet = 0;
  const held = () => {
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      let text = '';
      try { text = fs.readFileSync(table, 'latin1'); } catch { continue; }
      for (const line of text.split('\\n').slice(1)) {
        const f = line.trim().split(/\\s+/);
        if (f[3] !== '0A' && f[9] && f[9] !== '0' && parseInt((f[1] || '').split(':')[1], 16) === ${port}) return true;
      }
    }
    return false;
  };
  const look = () => {
    try {
      if (inspector.url() !== url) return;
      quiet = held() ? 0 : quiet + 1;
      if (quiet >= 2) return inspector.close();
    } catch { return; }
    setTimeout(look, ${CLOSER_LOOK_MS}).unref();
  };
  setTimeout(look, ${CLOSER_LOOK_MS}).unref();
})()`;
}

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
