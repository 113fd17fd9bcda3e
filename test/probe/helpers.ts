import { spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CapturesFolder } from '../../src/supervisor/journal/captures.js';
import { onCleanup, spawnTracked, tempDir, trackGroup } from '../helpers/cli.js';
import { ProbeSessions, type GcPoint, type ProbeSessionsOptions, type Logger } from '../../src/supervisor/probe-link/probe-sessions.js';
import { Registry, type ProcessRecord, type Rejection } from '../../src/supervisor/probe-link/registry.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const PROBE = path.join(ROOT, 'dist/probe/probe.cjs');
export const FIXTURES = path.join(ROOT, 'test/fixtures/probe');

export const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface LogLine {
  level: string;
  msg?: string;
  obj: Record<string, unknown>;
}

/** A logger that keeps every line, for tests that look at what the supervisor side said. */
export function recordingLog(lines: LogLine[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** NODE_OPTIONS as the supervisor's launch sets them. */
export function probedEnv(socketPath: string, reportDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    CFN_SUPERVISE_SOCKET: socketPath,
    NODE_OPTIONS: `--require "${PROBE}" --max-old-space-size=512 --report-on-fatalerror --report-directory="${reportDir}"`,
  };
}

export function unprobedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CFN_SUPERVISE_SOCKET;
  delete env.NODE_OPTIONS;
  return env;
}

/** A registry and probe sessions on a state folder, with the processes a test starts under them: ended, closed,
 *  unmounted and removed after the test by test/helpers/cli.ts's scope, also when it fails. */
export class Harness {
  readonly dir = tempDir('cfn-probe-');
  registry!: Registry;
  sessions!: ProbeSessions;
  readonly logs: LogLine[] = [];
  readonly gcPoints: { pid: number; point: GcPoint }[] = [];
  readonly rejections: Rejection[] = [];

  constructor() {
    onCleanup(async () => {
      this.sessions?.closeAll();
      await this.registry?.close();
    });
  }

  async start(opts: Partial<Omit<ProbeSessionsOptions, 'registry' | 'log' | 'onGc' | 'captures'>> & { isMember?: (pid: number) => boolean; capturesDir?: string } = {}): Promise<this> {
    const { isMember, capturesDir = path.join(this.dir, 'captures'), ...rest } = opts;
    this.registry = await Registry.listen(path.join(this.dir, 'registry.sock'), isMember ? { isMember } : {});
    this.registry.on('reject', (r) => this.rejections.push(r));
    this.sessions = new ProbeSessions({
      registry: this.registry,
      samplingInterval: 524288,
      pressure: 0.7,
      callTimeoutMs: 5000,
      captures: new CapturesFolder(capturesDir),
      log: recordingLog(this.logs),
      onGc: (pid, point) => this.gcPoints.push({ pid, point }),
      ...rest,
    });
    return this;
  }

  /** A tmpfs of `size` (mount(8) syntax) on a new folder, unmounted after the test; undefined when mounting is refused. */
  tmpfs(name: string, size: string): string | undefined {
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { mode: 0o700 });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    onCleanup(() => spawnSync('umount', [dir]));
    return dir;
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return probedEnv(this.registry.socketPath, this.dir, extra);
  }

  /** In a group of its own, killed whole after the test: what it left behind is no descendant of anything. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts, detached: true });
    trackGroup(child.pid!);
    return child;
  }

  /** Resolves with the record of the process `pid` once it registered. */
  registered(match: (rec: ProcessRecord) => boolean): Promise<ProcessRecord> {
    const found = this.registry.list().find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const on = (rec: ProcessRecord): void => {
        if (!match(rec)) return;
        this.registry.off('register', on);
        resolve(rec);
      };
      this.registry.on('register', on);
    });
  }
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export function collect(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (d: string) => (text += d));
  return () => text;
}

export function waitForOutput(stream: NodeJS.ReadableStream | null | undefined, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream?.on('data', (d: Buffer | string) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) resolve(m[0]);
    });
    stream?.on('end', () => reject(new Error(`stream ended without ${pattern}: ${text}`)));
  });
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

interface ProfileNode {
  callFrame: { functionName: string };
  selfSize: number;
  children: ProfileNode[];
}

/** The function with the most self size in a sampling profile (.heapprofile). */
export function topSelfFunction(file: string): string | undefined {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const self = new Map<string, number>();
  const walk = (n: ProfileNode): void => {
    const name = n.callFrame.functionName || '(anonymous)';
    self.set(name, (self.get(name) ?? 0) + n.selfSize);
    n.children.forEach(walk);
  };
  walk(profile.head);
  return [...self].sort((a, b) => b[1] - a[1])[0]?.[0];
}
