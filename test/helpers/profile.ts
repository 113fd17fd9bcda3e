// Reading a sampling heap profile back in a test.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

/** The function with the largest self size, summed over its nodes. */
export function topSelfFrame(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode; samples: unknown[] };
  expect(Array.isArray(profile.samples)).toBe(true);
  const bySelf = new Map<string, number>();
  const walk = (n: ProfileNode) => {
    expect(n).toMatchObject({ callFrame: expect.any(Object), selfSize: expect.any(Number), id: expect.any(Number), children: expect.any(Array) });
    bySelf.set(n.callFrame.functionName, (bySelf.get(n.callFrame.functionName) ?? 0) + n.selfSize);
    n.children.forEach(walk);
  };
  walk(profile.head);
  return [...bySelf].sort((a, b) => b[1] - a[1])[0]![0];
}
