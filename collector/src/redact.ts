/**
 * Keeping secrets out of everything the collector shows or writes: log lines, recorded requests,
 * /debug, error messages. Every redaction in the collector goes through this module.
 */

export const REDACTED = '[redacted]';

/**
 * A function that replaces every occurrence of each secret in a text: as written, JSON-escaped (a
 * secret inside a JSON string, once or twice) and URL-encoded (a secret in a query or a form body).
 */
export function redactor(secrets: readonly string[], replacement = REDACTED): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    const escaped = JSON.stringify(s).slice(1, -1);
    forms.add(s);
    forms.add(escaped);
    forms.add(JSON.stringify(escaped).slice(1, -1)); // JSON inside a JSON string (a body in a log line)
    forms.add(encodeURIComponent(s));
  }
  if (!forms.size) return (t) => t;
  const needles = [...forms].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(needles.join('|'), 'g');
  return (text) => text.replace(re, replacement);
}

/** Headers that carry credentials, whatever their value. */
const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|x-api-key|cookie|set-cookie)$/i;

/** A copy of `headers` with every credential header's value replaced. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, CREDENTIAL_HEADERS.test(k) ? REDACTED : v]));
}

/** A URL without its user, password and query string (which may carry credentials). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '[invalid url]';
  }
}
