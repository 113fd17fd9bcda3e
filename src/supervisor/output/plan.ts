// Which of the agent's stdout and stderr the supervisor copies through a pipe: never a terminal (the agent must
// own it: colours, raw mode, job control), and one pipe for both when they go to the same place (`2>&1`,
// systemd's journal), so the order the agent wrote them in is the order they arrive in. Pure.

export type StreamName = 'stdout' | 'stderr' | 'stdout+stderr';

export interface StdioFacts {
  /** --agent-log (the default); off, every fd is the supervisor's own, as it was. */
  enabled: boolean;
  stdoutTty: boolean;
  stderrTty: boolean;
  /** fds 1 and 2 are the same file, pipe or socket. */
  sameDestination: boolean;
}

export interface PlannedPipe {
  stream: StreamName;
  /** The agent's fds this pipe becomes; the first is also where its bytes are copied to. */
  fds: readonly (1 | 2)[];
}

export function planOutput(f: StdioFacts): PlannedPipe[] {
  if (!f.enabled) return [];
  if (!f.stdoutTty && !f.stderrTty && f.sameDestination) return [{ stream: 'stdout+stderr', fds: [1, 2] }];
  const pipes: PlannedPipe[] = [];
  if (!f.stdoutTty) pipes.push({ stream: 'stdout', fds: [1] });
  if (!f.stderrTty) pipes.push({ stream: 'stderr', fds: [2] });
  return pipes;
}
