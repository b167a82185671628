import { z } from 'zod';
import { classifyResponse } from '../../delivery/classify.js';
import { missingConsent } from '../consent.js';
import { normaliseCountry } from '../pii.js';
import { baseUrl, commonSettings, secret } from '../settings.js';
import type { DestinationDefinition } from '../types.js';
import { nextdoorConversion } from './mapping.js';
import { nextdoorEventNames, type NextdoorConversion } from './types.js';

/** GA4 event → Nextdoor event_name, used when the config gives no `events`. */
export const nextdoorDefaultEvents: Readonly<Record<string, (typeof nextdoorEventNames)[number]>> = {
  purchase: 'purchase',
  generate_lead: 'lead',
  sign_up: 'sign_up',
  add_to_cart: 'add_to_cart',
  begin_checkout: 'initiate_checkout',
  search: 'search',
  view_item: 'view_content',
  add_to_wishlist: 'add_to_wishlist',
};

const settings = z
  .object({
    token: secret,
    /** Nextdoor's data source id (formerly the pixel id), sent top-level as `data_source_id`. */
    dataSourceId: z.string().trim().min(1).max(128),
    baseUrl: baseUrl('https://ads.nextdoor.com'),
    events: z.record(z.string(), z.enum(nextdoorEventNames)).default({ ...nextdoorDefaultEvents }),
    /** Sent as `test_event`: Nextdoor marks the traffic as test. */
    testEvent: z.string().trim().min(1).max(256).optional(),
    partnerId: z.string().trim().min(1).max(256).optional(),
    /**
     * A visitor who opted out of sale/sharing with Global Privacy Control: `skip` sends nothing;
     * `restrict` sends with `restricted_data_usage: 1` (+ `_country`/`_state` from the address).
     */
    restrictedDataUsage: z.enum(['skip', 'restrict']).default('skip'),
    /** Alpha-2 country for phone numbers written without a country code, when the address has none. */
    defaultCountry: z
      .string()
      .refine((c) => normaliseCountry(c) !== undefined, 'must be an ISO 3166-1 alpha-2 country code')
      .transform((c) => normaliseCountry(c)!)
      .optional(),
    ...commonSettings(['ad_storage', 'ad_user_data']),
  })
  .strict();

export type NextdoorSettings = z.infer<typeof settings>;

export const nextdoor: DestinationDefinition<NextdoorSettings, NextdoorConversion> = {
  name: 'nextdoor',
  settings,
  create(s) {
    const url = `${s.baseUrl}/v2/api/conversions/track`;
    return {
      name: 'nextdoor',
      maxBatch: 1,
      secrets: [s.token],
      vendorEvent: (name) => (Object.hasOwn(s.events, name) ? s.events[name] : undefined),
      map(event) {
        const required = s.consent as never[];
        // With `restrict`, a GPC opt-out is sent flagged instead of skipped; explicit denials still skip.
        const restricted = s.restrictedDataUsage === 'restrict' && event.consent?.gpc === true;
        const consent = restricted ? { ...event.consent, gpc: false } : event.consent;
        const missing = missingConsent(consent, required);
        if (missing) return { skip: `consent: ${missing}` };
        return {
          payload: nextdoorConversion(event, {
            eventName: s.events[event.name]!,
            dataSourceId: s.dataSourceId,
            testEvent: s.testEvent,
            partnerId: s.partnerId,
            defaultCountry: s.defaultCountry,
            restricted,
          }),
        };
      },
      request: ([payload]) => ({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
        body: JSON.stringify(payload),
      }),
      check: (res, req) => classifyResponse('nextdoor', req, res, undefined, errorSummary),
    };
  },
};

/** Nextdoor documents no error body; keep whatever message it gives (`message`, `error`, `errors[]`). */
function errorSummary(body: string): string | undefined {
  const b = JSON.parse(body) as Record<string, unknown>;
  if (typeof b.message === 'string') return b.message;
  if (typeof b.error === 'string') return b.error;
  if (b.error && typeof b.error === 'object' && typeof (b.error as { message?: unknown }).message === 'string') {
    return (b.error as { message: string }).message;
  }
  if (Array.isArray(b.errors)) return b.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('; ');
  return undefined;
}
