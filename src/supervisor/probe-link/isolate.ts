// A V8 isolate of the tree: a node process's main thread, or one of its worker threads (its own heap and limit).

/** Where an isolate is found: `pid` for a main thread (thread 0), `pid/thread` for a worker. */
export function isolateKey(pid: number, thread = 0): string {
  return thread ? `${pid}/${thread}` : String(pid);
}
