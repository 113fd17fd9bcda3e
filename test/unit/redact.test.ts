import { describe, expect, it } from 'vitest';
import { MAX_ARG_CHARS, MAX_ARGS, redactArgv } from '../../src/common/redact.js';

describe('redactArgv', () => {
  const cases: [string, string[], string[]][] = [
    ['flag=value', ['node', 'agent.js', '--api-key=SECRET'], ['node', 'agent.js', '--api-key=***']],
    ['flag value', ['agent', '--api-key', 'SECRET', '--verbose'], ['agent', '--api-key', '***', '--verbose']],
    ['--token', ['agent', '--token', 'abc'], ['agent', '--token', '***']],
    ['--password=', ['agent', '--password=p4ss'], ['agent', '--password=***']],
    ['--secret', ['agent', '--secret', 's'], ['agent', '--secret', '***']],
    ['single dash', ['agent', '-token', 't'], ['agent', '-token', '***']],
    ['*key*', ['agent', '--openai-key', 'sk-1', '--keyfile=/k'], ['agent', '--openai-key', '***', '--keyfile=***']],
    ['*token*', ['agent', '--github-token-file', '/t'], ['agent', '--github-token-file', '***']],
    ['*secret*', ['agent', '--client_secret=x'], ['agent', '--client_secret=***']],
    ['*passwd*', ['agent', '--db-passwd', 'x'], ['agent', '--db-passwd', '***']],
    ['*auth*', ['agent', '--basic-auth', 'u:p', '--oauth=o'], ['agent', '--basic-auth', '***', '--oauth=***']],
    ['*credential*', ['agent', '--credentials', 'c.json'], ['agent', '--credentials', '***']],
    ['case', ['agent', '--API-KEY', 'x'], ['agent', '--API-KEY', '***']],
    ['a secret flag then another flag', ['agent', '--password', '--quiet'], ['agent', '--password', '--quiet']],
    ['env-style', ['env', 'FOO_TOKEN=x', 'AWS_SECRET_ACCESS_KEY=y', 'PATH=/bin', 'agent'], ['env', 'FOO_TOKEN=***', 'AWS_SECRET_ACCESS_KEY=***', 'PATH=/bin', 'agent']],
    ['dotted assignment', ['agent', 'db.password=x'], ['agent', 'db.password=***']],
    ['URL userinfo', ['git', 'clone', 'https://user:pass@host/r.git'], ['git', 'clone', 'https://user:***@host/r.git']],
    ['URL userinfo in a flag', ['agent', '--db=postgres://app:pw@db:5432/x'], ['agent', '--db=postgres://app:***@db:5432/x']],
    ['URL with a port, no userinfo', ['agent', 'https://host:8080/a@b'], ['agent', 'https://host:8080/a@b']],
    ['URL query secret', ['curl', 'https://h/x?access_token=abc&page=2'], ['curl', 'https://h/x?access_token=***&page=2']],
    ['bearer header', ['curl', '-H', 'Authorization: Bearer abc.def'], ['curl', '-H', 'Authorization: Bearer ***']],
    ['nothing secret', ['node', '--max-old-space-size=4096', 'server.js', '--port', '8080'], ['node', '--max-old-space-size=4096', 'server.js', '--port', '8080']],
    ['empty', [], []],
  ];
  it.each(cases)('%s', (_, argv, expected) => {
    expect(redactArgv(argv)).toEqual(expected);
  });

  it('keeps at most MAX_ARGS arguments, the last one saying how many were cut', () => {
    const argv = Array.from({ length: 100 }, (_, i) => `a${i}`);
    const out = redactArgv(argv);
    expect(out).toHaveLength(MAX_ARGS);
    expect(out.slice(0, MAX_ARGS - 1)).toEqual(argv.slice(0, MAX_ARGS - 1));
    expect(out.at(-1)).toBe(`…[${100 - (MAX_ARGS - 1)} more arguments]`);
  });

  it('cuts a long argument to MAX_ARG_CHARS, saying how long it was, after redacting it', () => {
    const long = 'x'.repeat(10_000);
    const [cut] = redactArgv([long]);
    expect(cut).toHaveLength(MAX_ARG_CHARS);
    expect(cut).toMatch(/^x+…\[10000 chars\]$/);
    const [secret] = redactArgv([`--token=${'s'.repeat(1000)}`]);
    expect(secret).toBe('--token=***');
  });

  it('is idempotent: what is served again from a journal is not cut twice', () => {
    const argv = ['agent', '--api-key', 'k', 'x'.repeat(1000), ...Array.from({ length: 60 }, (_, i) => `https://u:p${i}@h`)];
    const once = redactArgv(argv);
    expect(redactArgv(once)).toEqual(once);
  });
});
