// The container examples run as written: the Dockerfile's ENTRYPOINT and CMD with its ENV, and each agent
// command docs/production.md gives the image (`docker run … cfn-agent <command>`, the Kubernetes `args`), in a
// folder laid out as the image's /app (the package installed by npm) with /state, /app and the metrics port
// moved to this test's own.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, freePort, tempDir } from '../helpers/cli.js';
import { installInto, runsTheDemoAgent } from './install.js';

const DOCKERFILE = readFileSync(path.join(ROOT, 'examples/docker/Dockerfile'), 'utf8');
const PRODUCTION = readFileSync(path.join(ROOT, 'docs/production.md'), 'utf8');

/** One instruction's arguments, continuation lines joined. */
function instruction(name: string): string {
  const joined = DOCKERFILE.replace(/\\\n\s*/g, ' ');
  const line = joined.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`the Dockerfile has no ${name}`);
  return line.slice(name.length + 1).trim();
}

const execForm = (name: string) => JSON.parse(instruction(name)) as string[];

/** The agent commands docs/production.md runs the image with. */
function documentedCommands(): string[][] {
  const runs = [...PRODUCTION.matchAll(/^docker run .* cfn-agent\b([^#]*)/gm)].map((m) => m[1]!.split(/\s+/).filter(Boolean));
  const args = [...PRODUCTION.matchAll(/^\s+args: (\[.*?\])/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  return [...runs, ...args];
}

async function runImage(command: string[]): Promise<void> {
  const root = tempDir('cfn-image-');
  const app = path.join(root, 'app');
  const bin = installInto(app);
  const port = await freePort();
  const moved = (value: string) => value.replaceAll('/app', app).replace(/^\/state$/, path.join(root, 'state')).replace(/^9464$/, String(port));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [, key, value] of instruction('ENV').matchAll(/(\w+)=(\S+)/g)) env[key!] = moved(value!.replace('$PATH', process.env.PATH ?? ''));
  expect(env.PATH!.startsWith(`${bin}:`)).toBe(true);
  expect(instruction('WORKDIR')).toBe('/app');
  await runsTheDemoAgent([...execForm('ENTRYPOINT'), ...(command.length > 0 ? command : execForm('CMD'))], { cwd: app, env });
}

describe('examples/docker/Dockerfile', () => {
  it('runs its ENTRYPOINT and CMD: the supervisor, and the agent it names', async () => {
    expect(execForm('ENTRYPOINT')).toEqual(['cfn-supervise', '--']);
    await runImage([]);
  });

  it('runs every agent command docs/production.md gives the image', async () => {
    const commands = documentedCommands();
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) await runImage(command);
  });
});
