// Output throughput: writes to stdout as fast as its reader takes it and says how long that took.
// argv[2]: 'bulk' (64 KiB writes) or 'lines' (one write per 80-byte line, as console.log does); argv[3]: MB to
// write; argv[4]: the file its time (ms) goes to.
const fs = require('node:fs');

const [mode, mb, out] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const total = mb * 1024 * 1024;
const line = `${'agent step output '.repeat(4).slice(0, 79)}\n`;
const chunk = mode === 'bulk' ? Buffer.alloc(64 * 1024, line) : Buffer.from(line);
const t = performance.now();
for (let written = 0; written < total; ) {
  for (let at = 0; at < chunk.length; ) at += fs.writeSync(1, chunk, at);
  written += chunk.length;
}
fs.writeFileSync(out, String(performance.now() - t));
