// Comments say why, not what was measured: a measured cost (`~3 ms`, `0.6 ms for 50 processes`, `2.59×`) goes
// to benchmarks/results/design-figures.md, where it says what it measured and which benchmark tracks it, and the
// comment keeps the reason. Limits, defaults and examples (`~512 MiB`, `every 500 ms`, `2048 MB`) are not costs.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../src');
const COMMENT = /^\s*(\/\/|\/?\*)/;
const MEASURED = /~ ?\d[\d.]* ?(ms|µs|MB|KB|KiB)\b|\d[\d.]*×|\d[\d.]* ?(ms|µs) (for|of CPU)\b/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return sources(file);
    return /\.(c?ts)$/.test(e.name) ? [file] : [];
  });
}

it('no comment in src holds a measured cost', () => {
  const found = sources(ROOT).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, at: `${path.relative(ROOT, file)}:${i + 1}` }))
      .filter(({ line }) => COMMENT.test(line) && MEASURED.test(line))
      .map(({ line, at }) => `${at}: ${line.trim()}`),
  );
  expect(found).toEqual([]);
});
