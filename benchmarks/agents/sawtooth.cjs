// An agent whose heap saws without leaking: `sawtooth.cjs <marker> [MB] [seconds]` (default 50 MB over
// 10 s). Beside its turns' work (lib/turns.cjs) it buffers a batch that grows to MB over the period and then
// drops it whole, again and again: what survives each GC varies with where in the batch it falls, but the
// floor does not rise.
const { TURN_MS, everyTurn, objectsPerTurn } = require('./lib/turns.cjs');

const [mb, seconds] = [Number(process.argv[3] ?? 50), Number(process.argv[4] ?? 10)];
const turnsPerBatch = Math.round((seconds * 1000) / TURN_MS);
const perTurn = objectsPerTurn((mb / seconds) * 60);
let batch = [];

function buffer(turn) {
  if (turn % turnsPerBatch === 0) batch = [];
  const part = new Array(perTurn);
  for (let i = 0; i < perTurn; i++) part[i] = { turn, i, note: null };
  batch.push(part);
}

everyTurn(buffer);
