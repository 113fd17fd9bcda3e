// A slowly leaking agent: `slow-leak.cjs <marker> [MB/min]` (default 30). Beside its turns' work
// (lib/turns.cjs) it keeps a little of every turn for ever, all of it allocated in cacheSession, so that a
// heap profile's top site names the leak.
const { everyTurn, objectsPerTurn } = require('./lib/turns.cjs');

const perTurn = objectsPerTurn(Number(process.argv[3] ?? 30));
const sessions = [];

function cacheSession(turn) {
  const kept = new Array(perTurn);
  for (let i = 0; i < perTurn; i++) kept[i] = { turn, i, note: null };
  sessions.push(kept);
}

everyTurn(cacheSession);
