/** A total in two captures of one process, and how much it moved. */
export interface Change {
  readonly before: number;
  readonly after: number;
  readonly delta: number;
}

export function change(before: number, after: number): Change {
  return { before, after, delta: after - before };
}
