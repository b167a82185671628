import { looksLikeEmail } from '../pii.js';

/**
 * Convert's visitor cookie `_conv_v`, as the tag copies it into `properties.cookies` (with
 * `data-cookies="_conv_v"`: the raw value `document.cookie` gives, possibly URI-encoded).
 *
 * Format (https://support.convert.com/hc/en-us/articles/204495429-convert-experiences-tracking-cookies-structure):
 * pieces separated by `*`, each `key:value`. tagrelay reads two keys:
 * - `vi`: the visitor id (`1374074822644-0.8675333885475993`); Convert writes `vi:1` when it keeps no id
 *   for the visitor, which is no id at all.
 * - `exp`: the experiences the visitor saw, a JSON-like structure with `.` for `:` and `-` for `,`:
 *   `{10001236.{v.10008683-g.{10001841.1}}-10001237.{v.10008687}}` is experience 10001236 in variation
 *   10008683 (goal 10001841 triggered) and experience 10001237 in variation 10008687.
 * Anything that does not parse is ignored: a cookie never makes an event fail.
 */

/** The cookie name Convert's tracking script writes. */
export const CONVERT_VISITOR_COOKIE = '_conv_v';

export interface ConvertCookie {
  /** Convert's own visitor id, when the cookie holds one. */
  visitorId?: string;
  /** Experience id → variation id, as Convert's `bucketingData` takes it. */
  bucketing: Record<string, string>;
}

const MAX_COOKIE = 4096;
const MAX_VISITOR_ID = 256;
const MAX_EXPERIENCES = 100;
const ID = /^[0-9]{1,20}$/;

/** A parsed `exp` value: atoms are strings, `{…}` objects. */
type Node = string | { [key: string]: Node };

/** Parses Convert's `exp` notation; undefined when it is not well formed. */
function parseExp(text: string): Node | undefined {
  let i = 0;
  const atom = (): string | undefined => {
    const m = /^[A-Za-z0-9_]+/.exec(text.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  const value = (depth: number): Node | undefined => {
    if (text[i] !== '{') return atom();
    if (depth > 6) return undefined;
    i++;
    const out: Record<string, Node> = Object.create(null);
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const key = atom();
      if (key === undefined || text[i] !== '.') return undefined;
      i++;
      const v = value(depth + 1);
      if (v === undefined) return undefined;
      out[key] = v;
      if (text[i] === '-') i++;
      else if (text[i] === '}') {
        i++;
        return out;
      } else return undefined;
    }
  };
  const node = value(0);
  return node !== undefined && i === text.length ? node : undefined;
}

function decode(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Reads `_conv_v`; undefined when the value is not a string. Unparseable parts are left out. */
export function parseConvertCookie(raw: unknown): ConvertCookie | undefined {
  if (typeof raw !== 'string' || !raw || raw.length > MAX_COOKIE) return undefined;
  const cookie: ConvertCookie = { bucketing: {} };
  for (const piece of decode(raw).trim().split('*')) {
    const colon = piece.indexOf(':');
    if (colon < 1) continue;
    const key = piece.slice(0, colon).trim();
    const value = piece.slice(colon + 1).trim();
    if (key === 'vi') {
      if (value && value !== '1' && value.length <= MAX_VISITOR_ID && /^[\x21-\x7e]+$/.test(value) && !looksLikeEmail(value)) {
        cookie.visitorId = value;
      }
    } else if (key === 'exp') {
      const exp = parseExp(value);
      if (!exp || typeof exp === 'string') continue;
      for (const [experienceId, data] of Object.entries(exp)) {
        if (Object.keys(cookie.bucketing).length >= MAX_EXPERIENCES) break;
        const variationId = typeof data === 'object' ? data.v : undefined;
        if (ID.test(experienceId) && typeof variationId === 'string' && ID.test(variationId)) cookie.bucketing[experienceId] = variationId;
      }
    }
  }
  return cookie;
}

/** The raw value of a cookie the tag copied into `properties.cookies` (name → value). */
export function cookieOf(properties: Record<string, unknown> | undefined, name: string): string | undefined {
  const cookies = properties?.cookies;
  if (!cookies || typeof cookies !== 'object' || Array.isArray(cookies)) return undefined;
  const value = Object.hasOwn(cookies, name) ? (cookies as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}
