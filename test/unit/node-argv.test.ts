import { describe, expect, it } from 'vitest';
import { isNodeExecutable, parseNodeArgs, underPermissionModel } from '../../src/common/node-argv.js';

describe('parseNodeArgs: node options as node reads them', () => {
  const table: [string[], ReturnType<typeof parseNodeArgs>][] = [
    [['app.js', '--port', '3'], { options: [], entry: 'app.js' }],
    [['--max-old-space-size=512', '-r', '/x/probe.cjs', 'worker.js'], { options: ['--max-old-space-size=512', '-r'], entry: 'worker.js' }],
    [['-e', 'code --permission', '--inspect'], { options: ['--inspect'], entry: '-e' }],
    [['--', 'app.js', '--inspect'], { options: [], entry: 'app.js' }],
    [[], { options: [] }],
  ];
  it.each(table)('%j', (args, parsed) => expect(parseNodeArgs(args)).toEqual(parsed));
});

describe('underPermissionModel', () => {
  const table: [string[], string | undefined, boolean][] = [
    [['--experimental-permission', 'app.js'], undefined, true],
    [['--experimental_permission', 'app.js'], undefined, true],
    [['--permission', '--allow-fs-read=*', 'app.js'], undefined, true],
    [['app.js', '--permission'], undefined, false],
    [['--permission-audit', 'app.js'], undefined, false],
    [['app.js'], '--no-warnings --experimental-permission', true],
    [['app.js'], '--require=/p.cjs', false],
  ];
  it.each(table)('%j with NODE_OPTIONS %j → %s', (args, nodeOptions, on) => expect(underPermissionModel(args, nodeOptions)).toBe(on));
});

describe('isNodeExecutable', () => {
  it.each([
    ['node', true],
    ['/usr/bin/nodejs', true],
    ['/opt/node-20.1/bin/node20', true],
    ['/usr/bin/deno', false],
  ] as const)('%s → %s', (file, node) => expect(isNodeExecutable(file)).toBe(node));
});
