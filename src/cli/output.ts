// What the CLI writes for people, and the rule that writing can never kill it: a closed stdout (`| head`) ends
// a listing quietly, a closed stderr silences notices. A supervisor that died of EPIPE would orphan its agent.
import { EXIT, errorMessage } from '../common/errors.js';
import { readableStack } from '../common/stack.js';

const PROGRAM = 'cfn-supervise';
let stderrOpen = true;

// C0 controls but tab and newline, DEL, and C1 (0x9b is a CSI of its own on some terminals).
// eslint-disable-next-line no-control-regex -- control characters are what these match
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
// eslint-disable-next-line no-control-regex -- likewise
const CONTROL_OR_NEWLINE = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
const shown = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * Text for a terminal with every control character shown as `\x1b`, not obeyed: argv, titles, script names,
 * paths and function names come from the agent's tree, and one ESC among them could clear the user's screen or
 * rewrite what it shows. Newlines stay (they separate the lines of a table) unless `oneLine`.
 */
export const inert = (text: string, oneLine = false): string => text.replace(oneLine ? CONTROL_OR_NEWLINE : CONTROL, shown);

/** One line on stderr; `detail` (a bug's stack) under it, its lines kept. */
export function notice(message: string, detail?: string): void {
  if (!stderrOpen) return;
  try {
    process.stderr.write(`${PROGRAM}: ${inert(message, true)}\n${detail === undefined ? '' : `${inert(detail)}\n`}`);
  } catch {
    stderrOpen = false;
  }
}

const FLUSH_WAIT_MS = 10_000;

/** Resolves once what was written to stdout has left this process. */
const stdoutFlushed = (): Promise<void> => new Promise((resolve) => process.stdout.write('', () => resolve()));

/** Text for people on stdout, made inert. */
export const out = (text: string): void => void process.stdout.write(`${inert(text)}\n`);
/** JSON escapes every control character itself, and keeps each string as it was. */
export const printJson = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

export function quietOnBrokenPipes(): void {
  process.stderr.on('error', () => {
    stderrOpen = false;
  });
  // The reader has what it wanted (`status | head -3`): the rest is nobody's business, and not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
}

/**
 * The exit code an error of ours carries (CfnError), read rather than matched by class: each of the bin's bundles
 * has its own copy of the error classes.
 */
function exitCodeOf(err: unknown): number | undefined {
  const code = (err as { exitCode?: unknown } | null | undefined)?.exitCode;
  return typeof code === 'number' ? code : undefined;
}

/** A failure nobody meant: neither one of ours (it carries an exit code) nor a system call's (ENOENT, EACCES...). */
export const isBug = (err: unknown): boolean => err instanceof Error && exitCodeOf(err) === undefined && !('syscall' in err);

/** The text of a failure: one line for what was expected; a bug's whole stack, named by the source files. */
export const failureText = (err: unknown): { line: string; stack?: string } =>
  isBug(err) ? { line: `internal error: ${errorMessage(err).split('\n')[0]!}`, stack: readableStack(err) } : { line: errorMessage(err).split('\n')[0]! };

/** Says why a command failed (a bug with its stack); the exit code its error carries (1 for a bug). */
export function failed(err: unknown): number {
  const { line, stack } = failureText(err);
  notice(line, stack);
  return exitCodeOf(err) ?? EXIT.failure;
}

/**
 * A failure as the JSON a `--json` command prints on stdout, for a script that parses stdout whatever happens:
 * `{"error": {"kind": "noSupervisor", "message": "...", "exit_code": 3}}`, the same exit code following.
 */
export function printJsonFailure(err: unknown): void {
  const exitCode = exitCodeOf(err) ?? EXIT.failure;
  const kind = Object.entries(EXIT).find(([, code]) => code === exitCode)?.[0] ?? 'failure';
  printJson({ error: { kind, message: errorMessage(err).split('\n')[0]!, exit_code: exitCode } });
}

/** Exits with the code a command ends with; a rejection that escaped it is a bug, said in full. */
export function exitWhenDone(command: Promise<number>): void {
  command.then(
    // What a command printed into a pipe or socket may still be queued: process.exit would drop it. A reader that
    // never reads again (a stopped pager) is waited for only so long.
    (code) => {
      if (process.stdout.writableLength === 0) process.exit(code);
      const exit = () => process.exit(code);
      Promise.race([stdoutFlushed(), new Promise((resolve) => setTimeout(resolve, FLUSH_WAIT_MS).unref())]).then(exit, exit);
    },
    (err: unknown) => {
      notice(`internal error: ${errorMessage(err).split('\n')[0]!}`, readableStack(err));
      process.exit(EXIT.failure);
    },
  );
}
