// What the CLI writes for people, and the rule that writing can never kill it: a closed stdout (`| head`) ends
// a listing quietly, a closed stderr silences notices. A supervisor that died of EPIPE would orphan its agent.
import { CfnError, EXIT, errorMessage } from '../common/errors.js';

const PROGRAM = 'cfn-supervise';
let stderrOpen = true;

export function notice(message: string): void {
  if (!stderrOpen) return;
  try {
    process.stderr.write(`${PROGRAM}: ${message}\n`);
  } catch {
    stderrOpen = false;
  }
}

export const out = (text: string): void => void process.stdout.write(`${text}\n`);
export const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

export function quietOnBrokenPipes(): void {
  process.stderr.on('error', () => {
    stderrOpen = false;
  });
  // The reader has what it wanted (`status | head -3`): the rest is nobody's business, and not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
}

/** Says in one line why a command failed; the exit code its error carries (1 for a bug). */
export function failed(err: unknown): number {
  notice(errorMessage(err).split('\n')[0]!);
  return err instanceof CfnError ? err.exitCode : EXIT.failure;
}

/** Exits with the code a command ends with; a rejection that escaped it is a bug, said in full. */
export function exitWhenDone(command: Promise<number>): void {
  command.then(
    (code) => process.exit(code),
    (err: unknown) => {
      notice(errorMessage(err));
      process.exit(EXIT.failure);
    },
  );
}
