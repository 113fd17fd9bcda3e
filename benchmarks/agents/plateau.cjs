// A cache that fills and then stays full: `plateau.cjs <marker> [MB] [seconds]` (default 150 MB over the
// first 60 s). Beside its turns' work (lib/turns.cjs) it fills the cache in fillCache at an even rate, then
// keeps it as it is; prints `flat <epoch ms>` when the cache is full.
const { TURN_MS, everyTurn, objectsPerTurn } = require('./lib/turns.cjs');

const [mb, seconds] = [Number(process.argv[3] ?? 150), Number(process.argv[4] ?? 60)];
const fillTurns = Math.round((seconds * 1000) / TURN_MS);
const perTurn = objectsPerTurn((mb / seconds) * 60);
const cache = [];

function fillCache(turn) {
  if (turn > fillTurns) return;
  const entry = new Array(perTurn);
  for (let i = 0; i < perTurn; i++) entry[i] = { turn, i, note: null };
  cache.push(entry);
  if (turn === fillTurns) console.log('flat', Date.now());
}

everyTurn(fillCache);
