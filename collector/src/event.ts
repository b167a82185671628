import { z } from 'zod';

/**
 * The `/collect` body, version 1 (README, "`/collect` body"). The tag imports these types with `import type`
 * only, so no collector code or zod enters the browser bundle.
 */

const consentValue = z.enum(['granted', 'denied']);
const shortString = z.string().max(256);

/**
 * Limits on every value in a body, checked in one pass before the schema (http/validate.ts): JSON
 * gives only strings, numbers, booleans, null, arrays and objects, so `properties` values need no
 * schema of their own beyond these.
 */
export const bodyLimits = {
  /** Nesting of objects and arrays, counted from the body itself. */
  depth: 8,
  string: 2048,
  array: 500,
  key: 128,
} as const;

function isClickIds(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const k in v) {
    const value = (v as Record<string, unknown>)[k];
    if (k.length > 64 || typeof value !== 'string' || value.length > 512) return false;
  }
  return true;
}

export const consentSchema = z
  .object({
    ad_storage: consentValue.optional(),
    analytics_storage: consentValue.optional(),
    ad_user_data: consentValue.optional(),
    ad_personalization: consentValue.optional(),
    gpc: z.boolean().optional(),
    /** IAB TCF: whether GDPR applies to this visitor, as the CMP reported it. */
    gdpr: z.boolean().optional(),
  })
  .strict();

/** Letters, digits and `_.:-`: event ids and names. */
const TOKEN = /^[A-Za-z0-9_.:-]+$/;
/** Event times from 2000 to 2100, ms. */
const MIN_TIME = 946684800000;
const MAX_TIME = 4102444800000;

export const eventSchema = z
  .object({
    id: z.string().min(8).max(64).regex(TOKEN, 'id may hold letters, digits and _.:- only'),
    name: z.string().min(1).max(64).regex(TOKEN, 'name may hold letters, digits and _.:- only'),
    time: z.number().int().min(MIN_TIME).max(MAX_TIME),
    anonymousId: shortString.optional(),
    url: z.string().max(2048).optional(),
    referrer: z.string().max(2048).optional(),
    // A plain check rather than z.record, which copies every object it checks (the /collect hot path).
    clickIds: z
      .custom<Record<string, string>>(isClickIds, {
        message: 'Invalid input: expected an object of strings (names up to 64, values up to 512 characters)',
      })
      .optional(),
    consent: consentSchema.optional(),
    // Values are checked by the one pass over the body (bodyLimits); here only that it is an object.
    properties: z
      .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
        message: 'Invalid input: expected object',
      })
      .optional(),
  })
  .strict();

const EVENT_KEYS = new Set(Object.keys(eventSchema.shape));
const CONSENT_KEYS = new Set(Object.keys(consentSchema.shape));
const optionalString = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);

/**
 * Whether `eventSchema` takes `v`, in plain code: 0.2–0.7 µs of CPU an event against zod's 3.7–5.8
 * (its copy of the event and the garbage included), on the `/collect` hot path where nearly every event
 * is valid. It accepts nothing the schema refuses (event.test.ts compares the two over thousands of
 * generated events); what it refuses is checked again by the schema, which says why.
 */
export function isValidEvent(v: unknown): v is TrackedEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  for (const k in e) if (!EVENT_KEYS.has(k)) return false;
  const { id, name, time, consent, properties } = e;
  if (typeof id !== 'string' || id.length < 8 || id.length > 64 || !TOKEN.test(id)) return false;
  if (typeof name !== 'string' || name.length < 1 || name.length > 64 || !TOKEN.test(name)) return false;
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < MIN_TIME || time > MAX_TIME) return false;
  if (!optionalString(e.anonymousId, 256) || !optionalString(e.url, 2048) || !optionalString(e.referrer, 2048))
    return false;
  if (e.clickIds !== undefined && !isClickIds(e.clickIds)) return false;
  if (properties !== undefined && (typeof properties !== 'object' || properties === null || Array.isArray(properties)))
    return false;
  if (consent === undefined) return true;
  if (typeof consent !== 'object' || consent === null || Array.isArray(consent)) return false;
  for (const k in consent) {
    const value = (consent as Record<string, unknown>)[k];
    if (!CONSENT_KEYS.has(k)) return false;
    if (k === 'gpc' || k === 'gdpr' ? typeof value !== 'boolean' : value !== 'granted' && value !== 'denied')
      return false;
  }
  return true;
}

/** The body with its events not checked yet: /collect checks each event on its own (`eventSchema`) and keeps the valid ones. */
export const collectEnvelopeSchema = z
  .object({
    v: z.literal(1),
    events: z.array(z.unknown()).min(1).max(500),
  })
  .strict();

export type Consent = z.infer<typeof consentSchema>;
export type ConsentKey = 'ad_storage' | 'analytics_storage' | 'ad_user_data' | 'ad_personalization';
export type TrackedEvent = z.infer<typeof eventSchema>;

/** What the collector adds from the HTTP request that brought the event. */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
  receivedAt: number;
  /**
   * SHA-256 hex of the email address the event carried (trimmed, lowercased): kept after the
   * event's personal data is removed, so `tagrelay forget --email` still finds the event.
   */
  emailKey?: string;
  /** The event came from the shop's backend (a server key): it confirms a conversion (verifiedOnly). */
  verified?: boolean;
  /** The visitor's click ids the collector remembered, for an event that came without any. */
  clickIds?: Record<string, string>;
  /** The visitor's latest consent from the browser, for a backend event that came without any. */
  consent?: Consent;
}

/**
 * The conversion an event reports, `name:transaction_id`: a browser's and a server's event with one key
 * are one conversion, sent once per destination. Undefined for events without a transaction id.
 */
export function conversionKey(event: TrackedEvent): string | undefined {
  const id = event.properties?.transaction_id;
  if (typeof id === 'string' && id.trim()) return `${event.name}:${id.trim()}`;
  if (typeof id === 'number' && Number.isFinite(id)) return `${event.name}:${id}`;
  return undefined;
}

/** An event as stored: the tag's event plus the request context. */
export interface StoredEvent extends TrackedEvent {
  context: RequestContext;
}
