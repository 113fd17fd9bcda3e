// What a node command line says to node itself: its own options, read as node reads them, and whether the
// executable is node at all.
import path from 'node:path';

// Node options whose value is the next argument: that value is never the script.
const VALUE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '--input-type', '--title', '--env-file', '-C', '--conditions']);
// They stand for the script; node goes on reading options after their code.
const EVAL_OPTIONS = new Set(['-e', '--eval', '-p', '--print']);
const NODE_EXE = /^node(js)?[\d.-]*$/;
// Node 20: --experimental-permission; 22 and later: --permission. Node reads `_` in option names as `-`.
const PERMISSION = /^--(?:experimental[-_])?permission(?:=.*)?$/;

export function isNodeExecutable(file: string): boolean {
  return NODE_EXE.test(path.basename(file)) || file === process.execPath;
}

export interface NodeArgs {
  /** Node's own options (the values of those that take the next argument left out). */
  options: string[];
  /** The script, or the eval option that stands for it. */
  entry?: string;
}

/** `args`: a node command line without the executable. */
export function parseNodeArgs(args: readonly string[]): NodeArgs {
  const options: string[] = [];
  let entry: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      entry ??= args[i + 1];
      break;
    }
    if (!a.startsWith('-')) {
      entry ??= a;
      break;
    }
    if (EVAL_OPTIONS.has(a)) {
      entry ??= a;
      i++;
    } else {
      options.push(a);
      if (VALUE_OPTIONS.has(a)) i++;
    }
  }
  return entry === undefined ? { options } : { options, entry };
}

/**
 * Whether node runs this command line under its permission model, from its options or NODE_OPTIONS. Under it
 * node reads no file outside --allow-fs-read (a preloaded probe included: node exits 1 before the app runs),
 * and opens no inspector, neither on SIGUSR1 nor in-process (measured, Node 20.20.2).
 */
export function underPermissionModel(args: readonly string[], nodeOptions: string | undefined): boolean {
  return parseNodeArgs(args).options.some((o) => PERMISSION.test(o)) || (nodeOptions ?? '').split(/\s+/).some((o) => PERMISSION.test(o));
}
