/*
 * Worker threads, as the probe sees them once connected: which isolate it rides in and that isolate's heap limit.
 * (The workers that die of their heap are watched from preload on: probe.cts.)
 */

import { isWorkerThread } from './probe.cjs';

const MB = 1024 * 1024;

/** The worker's threadId; 0 on the main thread, which never pays for loading worker_threads. */
export function threadOf(): number {
  if (!isWorkerThread()) return 0;
  return (require('node:worker_threads') as typeof import('node:worker_threads')).threadId;
}

/**
 * A worker's old-space limit when no --max-old-space-size applies (which wins over resourceLimits, measured on
 * Node 20): its resourceLimits, or the default it inherits, which worker_threads reports there too.
 */
export function workerOldSpaceLimit(): number | undefined {
  const limits = (require('node:worker_threads') as typeof import('node:worker_threads')).resourceLimits;
  const mb = limits.maxOldGenerationSizeMb;
  return typeof mb === 'number' && mb > 0 ? mb * MB : undefined;
}
