// The turn loop of the slow-leak benchmark's agents (slow-leak.cjs, sawtooth.cjs, plateau.cjs), which differ
// only in what they keep. Every 100 ms a turn reads a tool's output into a fresh 1 MB Buffer, decodes it,
// builds and parses a message: short-lived garbage. It keeps the last three seconds of outputs, long enough
// for their Buffers to reach the old generation, whose external memory makes V8 collect fully every second
// or two, as in a real agent, also once the heap has stopped growing (one that allocated only what it kept
// would hardly ever run a major GC, and its heap would have no floor to read). They hold memory outside the
// JS heap, so a heap profile of the last seconds does not see them: what it names is what the agent keeps.
// Prints `start <epoch ms>` (its process start) first.
const TURN_MS = 100;
const TOOL_OUTPUT = Buffer.alloc(1024 * 1024, 'a line of tool output\n');
const RECENT_OUTPUTS = 30;
const recent = [];
// Heap per kept { turn, i, note } object and its array slot, measured on Node 20 x64 as post-GC growth.
const BYTES_PER_OBJECT = 56;

/** How many kept objects per turn make mbPerMin of heap. */
const objectsPerTurn = (mbPerMin) => Math.round((mbPerMin * 1024 * 1024) / 60 / (1000 / TURN_MS) / BYTES_PER_OBJECT);

function work(n) {
  const output = Buffer.from(TOOL_OUTPUT);
  recent.push(output);
  if (recent.length > RECENT_OUTPUTS) recent.shift();
  const messages = [];
  for (let i = 0; i < 2000; i++) messages.push({ role: i % 2 ? 'assistant' : 'user', turn: n, text: `message ${n}:${i}` });
  return JSON.parse(JSON.stringify(messages)).length + output.toString('utf8').length;
}

/** Runs keep(turn) once a turn, after the turn's own work. */
function everyTurn(keep) {
  console.log('start', Math.round(performance.timeOrigin));
  let turn = 0;
  let sink = 0;
  setInterval(() => {
    turn++;
    sink = (sink + work(turn)) % 1e9;
    keep(turn);
  }, TURN_MS);
}

module.exports = { TURN_MS, objectsPerTurn, everyTurn };
