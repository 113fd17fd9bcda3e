// Short-lived children: `churn.cjs <marker> <total> <parallel> <done file>` runs total node children that
// live 100 ms, parallel at a time, and writes the count finished to the done file; then stays, like an
// agent between tasks, so the supervisor is measured with the churn over and the agent still there.
// `node -e 0` would end before its probe registers (first loop turn), so the supervisor would never open
// a session to it: 100 ms is enough for the probe to register and the session to be set up and torn down.
const { spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const [total, parallel, out] = [Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
let started = 0;
let done = 0;
function next() {
  if (started >= total) return;
  started++;
  spawn(process.execPath, ['-e', 'setTimeout(() => {}, 100)'], { stdio: 'ignore' }).on('exit', () => {
    done++;
    if (done % 50 === 0 || done === total) writeFileSync(out, String(done));
    next();
  });
}
// Starts only when told (SIGUSR2), so the supervisor's "before" is taken with the agent idle.
process.on('SIGUSR2', () => {
  for (let i = 0; i < parallel; i++) next();
});
setInterval(() => {}, 1000);
