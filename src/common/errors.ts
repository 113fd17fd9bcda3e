// The project's error types. Each carries what it means to the two kinds of caller: the exit code a CLI command
// ends with and the HTTP status the control socket answers with. Anything else thrown is a bug: exit 1, HTTP 500.

/** Exit codes of the CLI, documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** No supervisor answers in the state dir. */
  noSupervisor: 3,
  /** The request was understood but there is nothing to act on now: no such process, cooling down, cap reached. */
  refused: 4,
  /** A supervisor holds the state dir but answers nothing: stopped (Ctrl-Z, SIGSTOP) or hung. */
  unresponsive: 5,
  /** The supervisor itself failed (an uncaught exception); its tree was ended before it exited. */
  internal: 70,
  /** The state dir cannot be written (a read-only file system, no permission): sysexits' EX_CANTCREAT. */
  stateDirUnwritable: 73,
  cannotExecute: 126,
  notFound: 127,
} as const;

export class CfnError extends Error {
  readonly exitCode: number = EXIT.failure;
  readonly status: number = 500;
}

/** Bad input from a person: flags, config, environment, request bodies. */
export class UsageError extends CfnError {
  override readonly name = 'UsageError';
  override readonly exitCode = EXIT.usage;
  override readonly status = 400;
}

/** An HTTP status with a message meant for the user as is: raised by the control server, rebuilt by its client. */
export class HttpError extends CfnError {
  override readonly name: string = 'HttpError';
  override readonly exitCode: number;
  constructor(
    override readonly status: number,
    message: string,
  ) {
    super(message);
    this.exitCode = status === 404 || status === 409 ? EXIT.refused : status === 400 ? EXIT.usage : EXIT.failure;
  }
}

/** Understood, but not now or not this target: 404 (no such process or session) or 409 (cooling down, capped). */
export class Refused extends HttpError {
  override readonly name = 'Refused';
  constructor(message: string, status: 404 | 409 = 409) {
    super(status, message);
  }
}

export class NoSupervisorError extends CfnError {
  override readonly name = 'NoSupervisorError';
  override readonly exitCode = EXIT.noSupervisor;
  override readonly status = 503;
}

/** The supervisor of the state dir runs but does not answer: waiting longer would only hang the caller. */
export class SupervisorUnresponsive extends CfnError {
  override readonly name = 'SupervisorUnresponsive';
  override readonly exitCode = EXIT.unresponsive;
  override readonly status = 503;
}

/** A call into an agent got no answer in time (blocked in synchronous code, or gone). */
export class TimeoutError extends CfnError {
  override readonly name = 'TimeoutError';
  override readonly status = 504;
  constructor(
    readonly pid: number,
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`pid ${pid}: ${what} got no answer within ${timeoutMs} ms`);
  }
}

/** The agent's side answered with an error, or went away mid-call. */
export class ProbeError extends CfnError {
  override readonly name = 'ProbeError';
  override readonly status: number = 502;
  constructor(
    readonly pid: number,
    message: string,
  ) {
    super(`pid ${pid}: ${message}`);
  }
}

/**
 * A probe with as many requests pending as it may have: the process is not answering (busy in synchronous code,
 * stopped). Not now rather than failed (409): the same request may pass later, or through the inspector port.
 */
export class ProbeBusy extends ProbeError {
  override readonly status = 409;
  override readonly exitCode = EXIT.refused;
  constructor(pid: number, pending: number) {
    super(
      pid,
      `not answering (${pending} requests pending); try again later, or capture it through its inspector port: cfn-supervise capture --pid ${pid} --state-dir <a folder no supervisor runs in>`,
    );
  }
}

/** The agent's command could not be started at all: not found (127) or not executable (126), as a shell says. */
export class SpawnError extends CfnError {
  override readonly name = 'SpawnError';
  override readonly exitCode: number;
  constructor(message: string, notFound: boolean) {
    super(message);
    this.exitCode = notFound ? EXIT.notFound : EXIT.cannotExecute;
  }
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
