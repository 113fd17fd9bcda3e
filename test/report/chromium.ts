// Headless Chromium (Debian's `chromium`) driven through the DevTools protocol over a pipe
// (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-separated JSON), so no port and no websocket client.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { spawnTrackedForFile, tempDir } from '../helpers/cli.js';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--remote-debugging-pipe',
];
const CALL_TIMEOUT_MS = 30_000;

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

export interface PageProblems {
  /** console.error and console.assert messages, uncaught exceptions, and error entries of the browser log. */
  errors: string[];
  /** Requests that failed, with why. */
  failed: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** Made in a beforeAll: the browser and its profile folder go after the file (test/helpers/cli.ts), also when
 *  `close` was never reached. */
export class Chromium {
  private readonly child: ChildProcess;
  private readonly userDataDir = tempDir('cfn-chromium-', 'file');
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((m: Message) => void)[] = [];
  private readonly exited: Promise<void>;
  stderr = '';

  constructor(windowSize = '1200,900') {
    // Its own process group: the renderer and zygote processes go with the browser when the group is killed.
    this.child = spawnTrackedForFile('chromium', [...FLAGS, `--user-data-dir=${this.userDataDir}`, `--window-size=${windowSize}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    let buffer = '';
    (this.child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let end: number;
      while ((end = buffer.indexOf('\0')) >= 0) {
        this.dispatch(JSON.parse(buffer.slice(0, end)) as Message);
        buffer = buffer.slice(end + 1);
      }
    });
    this.child.once('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited: ${this.stderr.slice(-2000)}`));
    });
  }

  private dispatch(m: Message): void {
    if (m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error.message));
      else p?.resolve(m.result ?? {});
      return;
    }
    for (const l of this.listeners) l(m);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from chromium within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      (this.child.stdio[3] as Writable).write(`${message}\0`);
    });
  }

  on(listener: (m: Message) => void): void {
    this.listeners.push(listener);
  }

  /** Opens `url` in a new tab and waits for its load event, recording what went wrong on the way. */
  async open(url: string): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: PageProblems = { errors: [], failed: [], requests: [] };
    const urls = new Map<string, string>();
    let loaded!: () => void;
    const load = new Promise<void>((resolve) => (loaded = resolve));
    this.on((m) => {
      if (m.sessionId !== sessionId || !m.params) return;
      const p = m.params as Record<string, any>;
      switch (m.method) {
        case 'Runtime.consoleAPICalled':
          if (p.type === 'error' || p.type === 'assert') problems.errors.push(`console.${p.type}: ${p.args.map((a: any) => a.value ?? a.description).join(' ')}`);
          break;
        case 'Runtime.exceptionThrown':
          problems.errors.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
          break;
        case 'Log.entryAdded':
          if (p.entry.level === 'error') problems.errors.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`);
          break;
        case 'Network.requestWillBeSent':
          urls.set(p.requestId, p.request.url);
          problems.requests.push(p.request.url);
          break;
        case 'Network.loadingFailed':
          problems.failed.push(`${urls.get(p.requestId) ?? p.requestId}: ${p.errorText}`);
          break;
        case 'Page.loadEventFired':
          loaded();
          break;
      }
    });
    for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await this.send(`${domain}.enable`, {}, sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    await load;
    return new Page(this, sessionId, problems);
  }

  /** Closes the browser, and kills its process group if it does not go. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await Promise.race([this.send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
      const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!gone) {
        try {
          process.kill(-this.child.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
        await this.exited;
      }
    }
  }
}

export class Page {
  constructor(
    private readonly browser: Chromium,
    private readonly sessionId: string,
    readonly problems: PageProblems,
  ) {}

  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true }, this.sessionId)) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** The whole page as a PNG, not only the window. */
  async screenshot(): Promise<Buffer> {
    const metrics = (await this.browser.send('Page.getLayoutMetrics', {}, this.sessionId)) as { cssContentSize: { width: number; height: number } };
    const { width, height } = metrics.cssContentSize;
    const shot = (await this.browser.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), scale: 1 } },
      this.sessionId,
    )) as { data: string };
    return Buffer.from(shot.data, 'base64');
  }
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.subarray(1, 4).toString() !== 'PNG' || png.subarray(12, 16).toString() !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
