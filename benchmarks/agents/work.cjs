// A CPU-and-allocation workload: `work.cjs <marker> <seconds> <result file> [<start, epoch ms>]`. Builds,
// serialises, parses and sorts small object graphs (what an agent does with JSON messages) and writes units done
// per second, counted after a warm-up so start-up and JIT do not weigh in. Given a start time, it warms up until
// then and counts from then on: two copies started side by side count over the same wall-clock window.
const { writeFileSync } = require('node:fs');
const [seconds, out] = [Number(process.argv[3]), process.argv[4]];
const WARMUP_MS = 500;
const startAt = process.argv[5] === undefined ? Date.now() + WARMUP_MS : Number(process.argv[5]);

function unit(seed) {
  const items = [];
  for (let i = 0; i < 200; i++) items.push({ id: (i * 7919 + seed) % 1000, name: `item-${i}`, tags: [i % 3, i % 5], nested: { v: i / 3 } });
  const copy = JSON.parse(JSON.stringify(items));
  copy.sort((a, b) => a.id - b.id || a.name.localeCompare(b.name));
  return copy[0].id;
}

let sink = 0;
while (Date.now() < startAt) sink += unit(sink);
// Started after its window began (a slow start): the caller must know that the windows do not match.
const lateMs = Math.max(0, Date.now() - startAt);
let units = 0;
const start = performance.now();
const end = start + seconds * 1000;
while (performance.now() < end) {
  sink += unit(units);
  units++;
}
writeFileSync(out, JSON.stringify({ perSecond: units / ((performance.now() - start) / 1000), lateMs, sink }));
