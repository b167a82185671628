import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Whether a request comes from the shop's backend: `none` without an Authorization header (a browser),
 * `valid` with `Bearer <one of the server keys>`, `invalid` with anything else (answered 401).
 */
export function serverKeyOf(req: IncomingMessage, keys: readonly string[]): 'none' | 'valid' | 'invalid' {
  const auth = req.headers.authorization;
  if (auth === undefined) return 'none';
  if (!auth.startsWith('Bearer ') || !keys.length) return 'invalid';
  const given = Buffer.from(auth.slice(7));
  return keys.some((k) => {
    const key = Buffer.from(k);
    return key.length === given.length && timingSafeEqual(key, given);
  })
    ? 'valid'
    : 'invalid';
}
