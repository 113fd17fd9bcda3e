// `reportCommand` as the CLI will call it, in its own process, from the build (npm test builds first).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileTracked, tempDir, type Scope } from '../helpers/cli.js';

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
    execFileTracked(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** Temporary folders of one test file, removed after each test or, with `file`, after the file. */
export class TempDirs {
  constructor(private readonly scope: Scope = 'test') {}

  make(prefix = 'cfn-report-'): string {
    return tempDir(prefix, this.scope);
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
}
