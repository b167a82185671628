import type { IncomingMessage } from 'node:http';
import type { Consent } from '../event.js';

/** The `cookie` setting: a first-party cookie the collector sets, holding the visitor's id. */
export interface CookieSettings {
  /** The shop's registrable domain (`shop.example`), so every subdomain shares it; none: the collector's host only. */
  domain?: string;
  name: string;
  maxAgeDays: number;
}

const ID = /^[A-Za-z0-9_.:-]{8,64}$/;

/** The visitor id in the request's cookie, if it holds a well-formed one. */
export function visitorIdFromCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return ID.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Storage is allowed unless the visitor denied both ad_storage and analytics_storage. */
export const storageAllowed = (consent: Consent | undefined): boolean =>
  consent?.ad_storage !== 'denied' || consent?.analytics_storage !== 'denied';

/**
 * The Set-Cookie value: HttpOnly (no script reads it, so no script-written-storage cap applies),
 * SameSite=Lax, Secure except on a loopback host (plain http while developing), Domain when set.
 * `id` undefined expires the cookie (storage was denied).
 */
export function setCookie(req: IncomingMessage, settings: CookieSettings, id: string | undefined): string {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const loopback = host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  return [
    `${settings.name}=${id ?? ''}`,
    'Path=/',
    `Max-Age=${id ? Math.round(settings.maxAgeDays * 86_400) : 0}`,
    ...(settings.domain ? [`Domain=${settings.domain}`] : []),
    'HttpOnly',
    ...(loopback ? [] : ['Secure']),
    'SameSite=Lax',
  ].join('; ');
}
