import { z } from 'zod';
import type { StoredEvent } from '../../event.js';
import { classifyResponse } from '../classify.js';
import { defineDestination } from '../define.js';
import { baseUrl, countryCode, secret } from '../settings.js';
import { nextdoorConversion } from './mapping.js';
import { nextdoorEventNames, type NextdoorConversion, type NextdoorEventName } from './types.js';

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

export const nextdoor = defineDestination({
  name: 'nextdoor',
  settings: {
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
    /** Overrides the collector's `defaultCountry` for this destination. */
    defaultCountry: countryCode.optional(),
  },
  defaultConsent: ['ad_storage', 'ad_user_data'],
  secrets: (s) => [s.token],
  routes: (s) => s.events,
  // With `restrict`, a GPC opt-out is sent flagged instead of skipped; explicit denials still skip.
  consentOf: (event, s) => (restricted(event, s) ? { ...event.consent, gpc: false } : event.consent),
  // GET /v2/api/me answers the token's owner: Nextdoor's way to check a token.
  credentialCheck: (s) => ({ method: 'GET', url: `${s.baseUrl}/v2/api/me`, headers: { authorization: `Bearer ${s.token}` } }),
  create(s, context) {
    const url = `${s.baseUrl}/v2/api/conversions/track`;
    return {
      map: (event, eventName: NextdoorEventName) => ({
        payload: nextdoorConversion(event, {
          eventName,
          dataSourceId: s.dataSourceId,
          testEvent: s.testEvent,
          partnerId: s.partnerId,
          defaultCountry: s.defaultCountry ?? context.defaultCountry,
          restricted: restricted(event, s),
        }),
      }),
      request: ([payload]: NextdoorConversion[]) => ({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
        body: JSON.stringify(payload),
      }),
      check: (res, req) => classifyResponse('nextdoor', req, res, undefined, errorSummary),
    };
  },
});

export type NextdoorSettings = z.infer<typeof nextdoor.settings>;

function restricted(event: StoredEvent, s: { restrictedDataUsage: 'skip' | 'restrict' }): boolean {
  return s.restrictedDataUsage === 'restrict' && event.consent?.gpc === true;
}

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
