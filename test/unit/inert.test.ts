import { describe, expect, it } from 'vitest';
import { inert } from '../../src/cli/output.js';

describe('text made inert for a terminal', () => {
  it.each([
    ['plain text', false, 'plain text'],
    ['\x1b[2J\x1b[Hpwned', false, '\\x1b[2J\\x1b[Hpwned'],
    ['a\tb\nc', false, 'a\tb\nc'],
    ['a\nb\rc', true, 'a\\x0ab\\x0dc'],
    ['bell\x07 del\x7f csi\x9b nul\x00', false, 'bell\\x07 del\\x7f csi\\x9b nul\\x00'],
    ['λ → ▁▂█ é', false, 'λ → ▁▂█ é'],
  ])('%j (one line: %s)', (text, oneLine, shown) => {
    expect(inert(text, oneLine)).toBe(shown);
  });
});
