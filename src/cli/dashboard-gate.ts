// Pure: whether the dashboard serves a request. The page shows argv and captures of someone's agent and its
// buttons act on it, so only whoever holds the token printed at start gets anything: a browser tab of another
// site cannot read it (no CORS), rebind a name of its own to 127.0.0.1 (Host checked), or post to it (the token
// header, which no cross-site form can set).
import { timingSafeEqual } from 'node:crypto';

export const COOKIE = 'cfn_dashboard';
export const TOKEN_HEADER = 'x-cfn-token';

export interface Asked {
  method: string;
  /** The Host header, as sent. */
  host: string | undefined;
  origin: string | undefined;
  cookie: string | undefined;
  /** `?token=` of the URL: only the page itself may be opened with it. */
  queryToken: string | null;
  headerToken: string | undefined;
  pathname: string;
}

export type Verdict = { ok: true; setCookie: boolean } | { ok: false; status: 401 | 403 | 405; message: string };

export function sameToken(given: string | undefined | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The names this server answers to: anything else is a DNS-rebinding page or a proxy's. */
export const allowedHosts = (port: number): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];

export function judge(asked: Asked, token: string, port: number): Verdict {
  const hosts = allowedHosts(port);
  if (!asked.host || !hosts.includes(asked.host.toLowerCase())) return { ok: false, status: 403, message: 'wrong Host: open the URL the dashboard printed' };
  if (asked.origin !== undefined && !hosts.some((h) => asked.origin === `http://${h}`)) return { ok: false, status: 403, message: 'cross-origin request refused' };
  if (asked.method === 'GET' || asked.method === 'HEAD') {
    const byQuery = asked.pathname === '/' && sameToken(asked.queryToken, token);
    if (byQuery) return { ok: true, setCookie: true };
    if (sameToken(cookieValue(asked.cookie, COOKIE), token) || sameToken(asked.headerToken, token)) return { ok: true, setCookie: false };
    return { ok: false, status: 401, message: 'no token: open the URL the dashboard printed' };
  }
  if (asked.method !== 'POST') return { ok: false, status: 405, message: `${asked.method} is not served` };
  // A cookie alone is what a forged cross-site POST would carry: actions need the header the page sets.
  if (sameToken(asked.headerToken, token)) return { ok: true, setCookie: false };
  return { ok: false, status: 401, message: `a POST needs the ${TOKEN_HEADER} header` };
}
