// What a log may say about a webhook URL: where it goes, never the credentials, tokens or ids in it.
import { describe, expect, it } from 'vitest';
import { REDACTED, redactUrl } from '../../src/common/redact.js';

describe('redactUrl', () => {
  it.each([
    ['https://hooks.slack.com/services/T0123ABC/B0456DEF/xYzSecretToken123', 'https://hooks.slack.com/services/***/***/***'],
    ['https://discord.com/api/webhooks/123456789012345678/AbCdEf-token_xyz', 'https://discord.com/api/webhooks/***/***'],
    ['https://user:pass@alerts.example.com:8443/hook', 'https://***@alerts.example.com:8443/hook'],
    ['https://alerts.example.com/notify?token=abc&channel=ops#frag', 'https://alerts.example.com/notify?token=***&channel=***#***'],
    ['https://example.com/?ABCDEF123=', 'https://example.com/?***=***'],
    ['https://example.com/hooks/A1/plainword', 'https://example.com/hooks/***/***'],
    ['http://127.0.0.1:9/hook', 'http://127.0.0.1:9/hook'],
  ])('%s → %s', (raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
  });

  it('replaces a string that is not a URL whole', () => {
    expect(redactUrl('token=abc not a url')).toBe(REDACTED);
  });

  it('changes nothing when applied twice', () => {
    const once = redactUrl('https://u:p@hooks.slack.com/services/T1/B2/x?k=v');
    expect(redactUrl(once)).toBe(once);
  });
});
