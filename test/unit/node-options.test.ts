// Which of the user's NODE_OPTIONS the supervisor's own node starts with (bin/cfn-supervise): all but the
// agent's debugging, profiling and preload flags, each kept as written; split as node splits them.
import { describe, expect, it } from 'vitest';
import { nodeOptionWords, supervisorNodeOptions, withoutAgentFlags } from '../../src/config/node-options.js';

describe('withoutAgentFlags', () => {
  it.each([
    ['--inspect=127.0.0.1:9229 --heap-prof', ''],
    ['--inspect-brk --max-old-space-size=4096', '--max-old-space-size=4096'],
    ['--inspect=0.0.0.0:9229 --use-openssl-ca', '--use-openssl-ca'],
    ['--inspect-port 9230 --inspect-wait --no-warnings', '--no-warnings'],
    ['--heap-prof --heap-prof-dir /tmp/p --heap-prof-interval=1024 --heap_prof_name x.heapprofile', ''],
    ['--cpu-prof --cpu-prof-dir=/tmp/c --prof --dns-result-order=ipv4first', '--dns-result-order=ipv4first'],
    ['-r dotenv/config --require=./apm.js --import tsx --loader ts-node/esm --experimental-loader=x', ''],
    ['--require "/a dir/pre load.js" --tls-min-v1.2', '--tls-min-v1.2'],
    ['--heapsnapshot-signal SIGUSR2 --heapsnapshot-near-heap-limit=2 --enable-source-maps', '--enable-source-maps'],
    ['--report-on-fatalerror  "--title=a b"  --redirect-warnings=/tmp/w', '--report-on-fatalerror "--title=a b" --redirect-warnings=/tmp/w'],
    // An unterminated quote: node refuses the value, and says so better than we would.
    ['--require "/a', '--require "/a'],
    ['', ''],
  ])('%j → %j', (input, kept) => {
    expect(withoutAgentFlags(input)).toBe(kept);
  });
});

describe('nodeOptionWords', () => {
  it.each([
    ['a  b', ['a', 'b']],
    ['--x="a b" "c\\"d" e\\f', ['--x=a b', 'c"d', 'e\\f']],
    ['"a\\', undefined],
  ])('%j', (input, words) => {
    expect(nodeOptionWords(input)?.map((w) => w.value)).toEqual(words);
  });
});

describe('supervisorNodeOptions', () => {
  it("keeps an outer supervisor's part whole: its probe watches this supervisor too", () => {
    const ours = '--max-old-space-size=512 --require=/x/probe.cjs';
    expect(supervisorNodeOptions({ NODE_OPTIONS: `--inspect -r a --no-warnings ${ours}`, CFN_SUPERVISE_NODE_OPTIONS: ours })).toBe(`--no-warnings ${ours}`);
    expect(supervisorNodeOptions({ NODE_OPTIONS: '--require=/x/probe.cjs', CFN_SUPERVISE_NODE_OPTIONS: ours })).toBe('');
  });
});
