// `reportCommand` as the CLI will call it, in its own process, from the build (npm test builds first).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const command = new URL('../../dist/cli/report.js', import.meta.url).href;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `nodeArgs` go to the node process that runs the command, e.g. a heap limit. */
export function report(stateDir: string, opts: { since?: string; json?: boolean; html?: string } = {}, nodeArgs: string[] = []): Promise<Run> {
  const script = `const { reportCommand } = await import(${JSON.stringify(command)}); process.exitCode = await reportCommand(${JSON.stringify(stateDir)}, ${JSON.stringify(opts)});`;
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** Temporary folders of one test file, removed by `removeAll` in its afterEach/afterAll. */
export class TempDirs {
  private readonly made: string[] = [];

  make(prefix = 'cfn-report-'): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.made.push(dir);
    return dir;
  }

  /** A state dir holding `files` (relative names, e.g. `captures/x.summary.json`). */
  stateDir(files: Record<string, string | Buffer>): string {
    const dir = this.make();
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), content);
    }
    return dir;
  }

  removeAll(): void {
    for (const dir of this.made.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
