// A real terminal for tests: a private tmux server (its own socket name, so tests never touch a user's tmux),
// one window running a command through an interactive-enough shell, keys sent and the screen read back.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { descendantsOf, onCleanup, track } from './cli.js';

export class Tmux {
  private readonly base: string[];
  private server?: number;

  constructor(name: string) {
    this.base = ['-L', `cfn-${name}-${process.pid}-${Date.now()}`, '-f', '/dev/null'];
  }

  /** Starts `command` in a 160×40 window (or `size`); the server's pid is tracked, so the test's cleanup ends it. */
  start(command: string, env: Record<string, string> = {}, size: { columns: number; rows: number } = { columns: 160, rows: 40 }): void {
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${JSON.stringify(v)}; `).join('');
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(size.columns), '-y', String(size.rows), `${exports}${command}`);
    this.server = Number(this.display('#{pid}'));
    track(this.server);
    // tmux leaves its socket behind when its server ends.
    const socket = this.display('#{socket_path}');
    onCleanup(() => rmSync(socket, { force: true }));
  }

  /** A tmux format (#{alternate_on}, #{cursor_flag}, ...) of the window, expanded. */
  display(format: string): string {
    return this.tmux('display-message', '-p', '-t', 'main', format).trim();
  }

  /** `keys` as tmux key names (C-c, C-z, Enter) or literal text. */
  send(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'main');
  }

  /**
   * Ends the terminal. What ran in it is tracked first: once the server is gone its processes are no longer under
   * it, and the test's cleanup would remove folders a supervisor still ending (on its terminal's SIGHUP) writes to.
   */
  kill(): void {
    if (this.server !== undefined) for (const pid of descendantsOf(this.server)) track(pid);
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', [...this.base, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
}
