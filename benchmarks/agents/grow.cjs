// A leaking agent: `grow.cjs <marker> <MB/s> [prefill MB]`. Every leaked object is allocated by leakFast,
// so a heap profile's top self-size frame names it. The prefill (same function, at once) brings RSS near
// the limit without waiting, which shortens a run and changes nothing about the rate at the crossing.
const [rate, prefill] = [Number(process.argv[3]), Number(process.argv[4] ?? 0)];
const PERIOD_MS = 50;
// RSS per leaked { j } object and its array slot while leaking steadily, measured on Node 20 x64 (a burst
// like the prefill costs about twice that: young-generation copies).
const BYTES_PER_OBJECT = 40;
const perMb = Math.round((1024 * 1024) / BYTES_PER_OBJECT);
const retained = [];
function leakFast(objects) {
  const chunk = new Array(objects);
  for (let j = 0; j < objects; j++) chunk[j] = { j };
  retained.push(chunk);
}
for (let mb = 0; mb < prefill; mb++) leakFast(perMb);
setInterval(leakFast, PERIOD_MS, Math.round((perMb * rate * PERIOD_MS) / 1000));
