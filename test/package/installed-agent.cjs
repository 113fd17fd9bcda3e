// The agent of the installed-package test. It stays until the supervisor has logged its probe's registration (so
// the run does not depend on how fast this machine is), then prints what the installed supervisor gave it: the
// NODE_OPTIONS that preload the probe and the script its watchdog runs, and exits 0.
const { readFileSync, readdirSync } = require('node:fs');
const path = require('node:path');

const log = path.join(process.env.CFN_SUPERVISE_PARENT_STATE_DIR, 'supervisor.log');

function registered() {
  let text;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    try {
      const entry = JSON.parse(line);
      return entry.msg === 'node process registered' && entry.pid === process.pid;
    } catch {
      return false;
    }
  });
}

const supervisor = Number(process.env.CFN_SUPERVISE_PID);
const parentOf = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

/** The script of our supervisor's watchdog (its child): other supervisors may run on this machine. */
function watchdogScript() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (parentOf(pid) !== supervisor) continue;
      const script = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((arg) => arg.endsWith('/watchdog.sh'));
      if (script) return script;
    } catch {
      // Gone between listing and reading.
    }
  }
  return null;
}

const deadline = Date.now() + 60_000;
const timer = setInterval(() => {
  if (registered()) {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify({ agent: 'ran', nodeOptions: process.env.NODE_OPTIONS, watchdog: watchdogScript() })}\n`);
  } else if (Date.now() > deadline) {
    process.stderr.write('the probe never registered\n');
    process.exit(1);
  }
}, 50);
