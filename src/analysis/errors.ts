/**
 * A file that cannot be analysed: empty, truncated, or not a heap profile or snapshot.
 * The message is one line meant for a person; callers print it without a stack.
 */
export class AnalysisError extends Error {
  override readonly name = 'AnalysisError';
}
