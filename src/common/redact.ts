// What may be written or served of a process's command line: secret-looking values replaced by ***, and the
// whole bounded, so one process with a huge argv cannot fill a journal line by line.

export const REDACTED = '***';
export const MAX_ARGS = 32;
export const MAX_ARG_CHARS = 256;

/** A flag or variable name that says its value is a secret. */
const SECRET_NAME = /key|token|secret|password|passwd|auth|credential/i;
/** `--api-key=…`, `-token=…`. */
const FLAG_WITH_VALUE = /^(-{1,2}[^=\s]+)=/s;
/** `--api-key` followed by its value as the next argument. */
const FLAG = /^-{1,2}[^=\s-][^=\s]*$/;
/** `API_TOKEN=…`, `db.password=…`. */
const ASSIGNMENT = /^([A-Za-z_][\w.-]*)=/s;
/** `https://user:secret@host`: the password goes, the user stays. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]*@/gi;
/** `?access_token=…&…` inside a URL or any other argument. */
const QUERY_SECRET = /([?&][^=&\s#]*(?:key|token|secret|password|passwd|auth|credential)[^=&\s#]*=)[^&\s#]*/gi;
/** `Authorization: Bearer …` passed as a header argument. */
const SCHEME_SECRET = /\b(Bearer|Basic|Token)\s+[^\s"']+/gi;

function redactInside(arg: string): string {
  return arg.replace(URL_PASSWORD, `$1:${REDACTED}@`).replace(QUERY_SECRET, `$1${REDACTED}`).replace(SCHEME_SECRET, `$1 ${REDACTED}`);
}

function redactOne(arg: string, previous: string | undefined): string {
  if (previous !== undefined && FLAG.test(previous) && SECRET_NAME.test(previous) && !arg.startsWith('-')) return REDACTED;
  const flag = FLAG_WITH_VALUE.exec(arg) ?? ASSIGNMENT.exec(arg);
  if (flag && SECRET_NAME.test(flag[1]!)) return `${flag[0]}${REDACTED}`;
  return redactInside(arg);
}

function bound(arg: string): string {
  if (arg.length <= MAX_ARG_CHARS) return arg;
  const marker = `…[${arg.length} chars]`;
  return `${arg.slice(0, MAX_ARG_CHARS - marker.length)}${marker}`;
}

/**
 * The argv to write into a journal or serve: each secret-looking value replaced by `***`, at most MAX_ARGS
 * arguments (the last one then says how many were cut) of at most MAX_ARG_CHARS characters each (a cut one ends
 * with its full length). Redaction runs before the cuts, so a cut never keeps half a secret; applying it twice
 * changes nothing.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const redacted = argv.map((arg, i) => bound(redactOne(arg, argv[i - 1])));
  if (redacted.length <= MAX_ARGS) return redacted;
  const kept = redacted.slice(0, MAX_ARGS - 1);
  return [...kept, `…[${argv.length - kept.length} more arguments]`];
}

/** A path segment or query key shown as is: a short lowercase word. Ids and tokens carry digits or capitals. */
const PLAIN_WORD = /^[a-z][a-z._-]{0,19}$/;

/**
 * What may be logged of a URL: scheme, host and port, and the path up to its first segment that could be an id
 * or a token, the rest replaced by `***` (Slack's /services/T…/B…/secret, Discord's /api/webhooks/<id>/<token>:
 * what follows an id is its secret, whatever it looks like); query values, the fragment and any credentials are
 * replaced too. A string that does not parse is replaced whole.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return REDACTED;
  }
  const shown = (word: string) => (word === '' || PLAIN_WORD.test(word) ? word : REDACTED);
  let hidden = false;
  const pathname = url.pathname
    .split('/')
    .map((segment) => {
      hidden ||= shown(segment) === REDACTED;
      return hidden && segment !== '' ? REDACTED : segment;
    })
    .join('/');
  const credentials = url.username || url.password ? `${REDACTED}@` : '';
  const query = [...url.searchParams.keys()].map((key) => `${shown(key)}=${REDACTED}`).join('&');
  return `${url.protocol}//${credentials}${url.host}${pathname}${query ? `?${query}` : ''}${url.hash ? `#${REDACTED}` : ''}`;
}

/** What logs may show of a command line: secret-looking values and the secret parts of URLs in it replaced. */
export function redactCommand(command: string): string {
  return redactArgv([command])[0]!.replace(/\bhttps?:\/\/[^\s'"]+/gi, (u) => redactUrl(u));
}

/** What every rule above needs (a secret's name, a URL's credentials, a scheme): most lines have none of it. */
const MAYBE_SECRET = /key|token|secret|passw|auth|credential|bearer|basic|:\/\/\S*@/i;

/**
 * A line of an agent's output as the journals keep command lines: each word redacted as an argument would be
 * (`--token abc`, `API_KEY=…`, a URL's password or secret query), and `Bearer …` across words.
 */
export function redactText(line: string): string {
  if (!MAYBE_SECRET.test(line)) return line;
  let previous: string | undefined;
  const words = line.replace(/\S+/g, (word) => {
    const out = redactOne(word, previous);
    previous = word;
    return out;
  });
  return words.replace(SCHEME_SECRET, `$1 ${REDACTED}`);
}
