// What the benchmarks read from /proc: memory, CPU time, open files and the process tree, measured from
// outside so cfn-supervise, PM2 and the bare process are all seen through the same lens.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const PAGE = 4096;
const MB = 1024 * 1024;
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;

const read = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
export function stat(pid) {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return null;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
}

/** Alive means present and not a zombie: a zombie's memory is already gone. */
export const alive = (pid) => {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
};

/** Resident memory in MB from statm: the cheapest read, fit for a 50 ms sampler. */
export function rssMb(pid) {
  const text = read(`/proc/${pid}/statm`);
  return text ? (Number(text.split(' ')[1]) * PAGE) / MB : null;
}

/** VmRSS, VmHWM … from /proc/<pid>/status, in MB. */
export function statusMb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) / 1024 : null;
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid) {
  const s = stat(pid);
  return s ? (s.utime + s.stime) / CLK_TCK : null;
}

/** With the children it waited for (cutime, cstime): the commands a supervisor runs and reaps (ps, lsof, free). */
export function cpuSecondsWithChildren(pid) {
  const s = stat(pid);
  return s ? (s.utime + s.stime + s.cutime + s.cstime) / CLK_TCK : null;
}

export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

const pids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);

export function exe(pid) {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

export function cmdline(pid) {
  return (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
}

/** Every live descendant of root, found through ppid links (so setsid and new process groups are included). */
export function descendants(root) {
  const children = new Map();
  for (const pid of pids()) {
    const s = stat(pid);
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(pid);
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Node processes (by executable, not name: PM2 retitles its children) among root's descendants. */
export const nodeDescendants = (root) => descendants(root).filter((pid) => exe(pid) === exe(process.pid) && alive(pid));

/**
 * Node processes whose first argument is marker (the agents' convention): how a benchmark finds its agent
 * behind sh or npx. PM2 retitles its children, so their argv is lost: ask PM2 for those pids.
 */
export function findNode(marker) {
  const node = exe(process.pid);
  return pids().filter((pid) => exe(pid) === node && alive(pid) && cmdline(pid)[2] === marker);
}

/**
 * Samples a process's RSS every periodMs until it dies; `died` is the first sample that found it gone.
 * Timer drift is fine: every sample carries its own time.
 */
export function rssSampler(pid, periodMs = 50) {
  const samples = [];
  let died = null;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const tick = () => {
    const t = Date.now();
    const rss = alive(pid) ? rssMb(pid) : null;
    if (rss === null) {
      died = t;
      clearInterval(timer);
      resolveDone();
      return;
    }
    samples.push({ t, rss });
  };
  const timer = setInterval(tick, periodMs);
  tick();
  return {
    samples,
    done,
    get died() {
      return died;
    },
    stop() {
      clearInterval(timer);
      resolveDone();
    },
    peak: () => Math.max(0, ...samples.map((s) => s.rss)),
    /** When RSS first reached limit, interpolated between the two samples around it. */
    crossing(limit) {
      const i = samples.findIndex((s) => s.rss >= limit);
      if (i < 0) return null;
      if (i === 0) return samples[0].t;
      const [a, b] = [samples[i - 1], samples[i]];
      return a.t + ((limit - a.rss) / (b.rss - a.rss)) * (b.t - a.t);
    },
  };
}

/** SIGKILL to each pid, ignoring the ones already gone. */
export function killAll(list) {
  for (const pid of list) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
