// The user's NODE_OPTIONS are for the agent. Node reads them before any JavaScript runs, so the supervisor's own
// node would take the user's debugging and profiling flags and preloads too: bind the agent's inspector port
// (the agent then says "address already in use"), listen on 0.0.0.0 for `--inspect=0.0.0.0`, write a heap
// profile of itself, run the user's preload. Only the launcher (bin/cfn-supervise) acts before node starts: when
// NODE_OPTIONS may hold such a flag it carries the value in CARRIER_ENV and runs cli/supervisor-node-options.ts
// for the options its node starts with; the program puts the user's value back (adoptUserNodeOptions) before it
// reads or passes on anything.

/** Where the launcher carries the user's NODE_OPTIONS past the supervisor's own node start. */
export const CARRIER_ENV = 'CFN_SUPERVISE_USER_NODE_OPTIONS';
/** Set in the agent's environment to exactly what the supervisor appended to NODE_OPTIONS. */
export const OUR_NODE_OPTIONS_ENV = 'CFN_SUPERVISE_NODE_OPTIONS';

/** Flags for the agent alone: debugging, profiling, preloads. */
const AGENT_ONLY = new Set([
  '--inspect',
  '--inspect-brk',
  '--inspect-wait',
  '--inspect-port',
  '--inspect-publish-uid',
  '--debug-port',
  '--heap-prof',
  '--heap-prof-dir',
  '--heap-prof-name',
  '--heap-prof-interval',
  '--cpu-prof',
  '--cpu-prof-dir',
  '--cpu-prof-name',
  '--cpu-prof-interval',
  '--prof',
  '--heapsnapshot-signal',
  '--heapsnapshot-near-heap-limit',
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
]);
/** Those of them whose value may be the next word (`--require x`); the others take theirs only after `=`. */
const NO_VALUE = new Set(['--inspect', '--inspect-brk', '--inspect-wait', '--heap-prof', '--cpu-prof', '--prof']);

interface Word {
  /** As node reads it: quotes removed, escapes resolved. */
  readonly value: string;
  /** As the user wrote it. */
  readonly raw: string;
}

/**
 * NODE_OPTIONS split as node splits it: on spaces, except inside double quotes, where a backslash escapes the
 * next character. Undefined where node would refuse the value (an unterminated quote or escape).
 */
export function nodeOptionWords(text: string): Word[] | undefined {
  const words: Word[] = [];
  let value: string | undefined;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    let c = text[i]!;
    if (c === ' ' && !quoted) {
      if (value !== undefined) words.push({ value, raw: text.slice(start, i) });
      value = undefined;
      continue;
    }
    if (value === undefined) {
      value = '';
      start = i;
    }
    if (c === '"') {
      quoted = !quoted;
      continue;
    }
    if (c === '\\' && quoted) {
      if (i + 1 === text.length) return undefined;
      c = text[++i]!;
    }
    value += c;
  }
  if (quoted) return undefined;
  if (value !== undefined) words.push({ value, raw: text.slice(start) });
  return words;
}

/** Node accepts `_` for `-` in an option's name: `--heap_prof`. */
function optionName(word: string): string {
  const name = word.split('=', 1)[0]!;
  return name.startsWith('--') ? `--${name.slice(2).replaceAll('_', '-')}` : name;
}

/** NODE_OPTIONS without the agent's debugging, profiling and preload flags, each as the user wrote it. */
export function withoutAgentFlags(text: string): string {
  const words = nodeOptionWords(text);
  // Node refuses such a value whatever we do; it says so better.
  if (!words) return text;
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const { value, raw } = words[i]!;
    const name = optionName(value);
    if (!AGENT_ONLY.has(name)) kept.push(raw);
    else if (!value.includes('=') && !NO_VALUE.has(name)) i++;
  }
  return kept.join(' ');
}

/** NODE_OPTIONS as the user set it: a supervisor started inside a supervised tree strips the outer one's part. */
export function userNodeOptions(env: NodeJS.ProcessEnv): string | undefined {
  const all = env.NODE_OPTIONS;
  const ours = env[OUR_NODE_OPTIONS_ENV];
  if (!all || !ours) return all;
  const at = all.lastIndexOf(ours);
  return at < 0 ? all : `${all.slice(0, at)}${all.slice(at + ours.length)}`.trim();
}

/**
 * The supervisor's own NODE_OPTIONS: the user's without the agent's flags. An outer supervisor's part (this one
 * runs in its tree) stays whole: its probe watches this process too.
 */
export function supervisorNodeOptions(env: NodeJS.ProcessEnv): string {
  const all = env.NODE_OPTIONS ?? '';
  const user = userNodeOptions(env) ?? '';
  const outer = env[OUR_NODE_OPTIONS_ENV] && user !== all ? env[OUR_NODE_OPTIONS_ENV] : '';
  return [withoutAgentFlags(user), outer].filter(Boolean).join(' ');
}

/** Puts the user's NODE_OPTIONS back into `env` (process.env), as they were before the launcher. */
export function adoptUserNodeOptions(env: NodeJS.ProcessEnv): void {
  const carried = env[CARRIER_ENV];
  if (carried === undefined) return;
  delete env[CARRIER_ENV];
  env.NODE_OPTIONS = carried;
}
