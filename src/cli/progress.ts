// One progress line on stderr, drawn only on a terminal so scripts get their output alone, and always cleared.
const WIDTH = 30;

export interface ProgressLine {
  /** `fraction` in 0..1 draws a bar; undefined draws the label alone. */
  update(label: string, fraction?: number): void;
  end(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  let drawn = false;
  return {
    update(label, fraction) {
      if (!stream.isTTY) return;
      const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(Math.min(1, fraction) * WIDTH)).padEnd(WIDTH, '.')}] ${String(Math.round(Math.min(1, fraction) * 100)).padStart(3)}% `;
      stream.write(`\r\x1b[K${bar}${label}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
