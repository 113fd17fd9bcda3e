#!/usr/bin/env node
// A demo agent that leaks like a long-running agent CLI does: a cache of conversation turns that is never
// evicted. It reports its heap once a second; under cfn-supervise it dies of heap exhaustion and is restarted.
// Installed as the command `cfn-supervise-demo-agent`, which the examples (systemd, Docker) run until you put
// your own agent's command in its place.
const turns = new Map();
let n = 0;

function rememberTurn() {
  // ~2 MB of retained strings per call, keyed so nothing is ever overwritten.
  turns.set(`turn-${n++}`, Array.from({ length: 2000 }, (_, i) => `token ${i} of turn ${n} `.repeat(40)));
}

setInterval(rememberTurn, 200);
setInterval(() => {
  const mb = (process.memoryUsage().heapUsed / 1048576).toFixed(0);
  process.stdout.write(`leaky-agent pid ${process.pid}: ${turns.size} turns cached, heap ${mb} MB\n`);
}, 1000);
