// PM2, the usual alternative, in a private PM2_HOME so the benchmark neither sees nor disturbs a user's
// daemon; `pm2 kill` (then SIGKILL to what is left of its tree) when the scope ends.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { root } from './cfn.mjs';
import { descendants, killAll } from './proc.mjs';
import { cleanEnv, waitFor } from './scope.mjs';

const run = promisify(execFile);
const bin = path.join(root, 'node_modules/.bin/pm2');

/** A fresh PM2 daemon; `daemonPid` is the process whose CPU and RSS count as PM2's cost. */
export async function startPm2(scope) {
  const home = scope.tempDir('cfn-bench-pm2-');
  const env = cleanEnv({ PM2_HOME: home });
  const pm2 = (args) => run(bin, args, { env, timeout: 60_000 });
  let daemonPid = null;
  scope.defer(async () => {
    const tree = daemonPid ? descendants(daemonPid) : [];
    await pm2(['kill']).catch(() => {});
    killAll(daemonPid ? [daemonPid, ...tree, ...descendants(daemonPid)] : tree);
  });
  await pm2(['ping']);
  const pidFile = () => {
    try {
      return Number(readFileSync(path.join(home, 'pm2.pid'), 'utf8')) || null;
    } catch {
      return null;
    }
  };
  daemonPid = await waitFor(pidFile, { timeoutMs: 10_000, label: 'pm2.pid' }).catch(() => null);
  if (!daemonPid) throw new Error('PM2 daemon did not start');
  scope.track(daemonPid);
  let n = 0;
  return {
    home,
    daemonPid,
    /** Starts apps from an ecosystem file (PM2's own format: name, script, args, interpreter …). */
    async start(apps) {
      const file = path.join(home, `ecosystem-${n++}.json`);
      writeFileSync(file, JSON.stringify({ apps }));
      await pm2(['start', file]);
    },
    /** The pid of an app's process, from `pm2 jlist` (0 while it is not running). */
    async pid(name) {
      const { stdout } = await pm2(['jlist']);
      return JSON.parse(stdout).find((app) => app.name === name)?.pid ?? 0;
    },
    async delete(name) {
      await pm2(['delete', name]).catch(() => {});
    },
  };
}
