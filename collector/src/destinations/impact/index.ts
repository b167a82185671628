import { z } from 'zod';
import { classifyResponse } from '../classify.js';
import { defineDestination } from '../define.js';
import { baseUrl, secret, wholeNumberId } from '../settings.js';
import { DEFAULT_ITEM_CATEGORY, impactConversion } from './mapping.js';
import type { ImpactConversion, ImpactEventType } from './types.js';

const eventType: z.ZodType<ImpactEventType> = z.union([
  z.object({ eventTypeId: wholeNumberId }).strict(),
  z.object({ eventTypeCode: z.string().trim().min(1).max(64) }).strict(),
]);

export const impact = defineDestination({
  name: 'impact',
  settings: {
    accountSid: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'must be the account SID (letters, digits, - and _)'),
    authToken: secret,
    campaignId: wholeNumberId,
    baseUrl: baseUrl('https://api.impact.com'),
    /** Tag event → the impact event type (action tracker) it is sent as. */
    events: z.record(z.string(), eventType).default({}),
    /** `ItemCategory{n}` for an item without `item_category`: impact requires a category with item-level details. */
    defaultItemCategory: z.string().trim().min(1).max(255).default(DEFAULT_ITEM_CATEGORY),
  },
  defaultConsent: ['ad_storage', 'ad_user_data'],
  secrets: (s) => [s.authToken, basicCredential(s)],
  routes: (s) => s.events,
  label: (t) => ('eventTypeId' in t ? t.eventTypeId : t.eventTypeCode),
  // Reading the campaign conversions go to proves the account SID, the token and the campaign id at once.
  credentialCheck: (s) => ({
    method: 'GET',
    url: `${s.baseUrl}/Advertisers/${encodeURIComponent(s.accountSid)}/Campaigns/${s.campaignId}`,
    headers: { accept: 'application/json', authorization: `Basic ${basicCredential(s)}` },
  }),
  create(s) {
    const url = `${s.baseUrl}/Advertisers/${encodeURIComponent(s.accountSid)}/Conversions`;
    const authorization = `Basic ${basicCredential(s)}`;
    return {
      map: (event, eventType: ImpactEventType) => ({
        payload: impactConversion(event, { campaignId: s.campaignId, eventType, defaultItemCategory: s.defaultItemCategory }),
      }),
      request: ([payload]: ImpactConversion[]) => ({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization },
        body: new URLSearchParams(payload).toString(),
      }),
      // 200 {"Status":"QUEUED"}; a 200 that says "ERROR" is a refusal too.
      check: (res, req) =>
        classifyResponse('impact', req, res, (status, body) => status >= 200 && status < 300 && !saysError(body), errorSummary),
    };
  },
});

export type ImpactSettings = z.infer<typeof impact.settings>;

/** HTTP Basic `accountSid:authToken`, base64: a secret in its own right. */
function basicCredential(s: { accountSid: string; authToken: string }): string {
  return Buffer.from(`${s.accountSid}:${s.authToken}`).toString('base64');
}

function saysError(body: string): boolean {
  try {
    return (JSON.parse(body) as { Status?: unknown }).Status === 'ERROR';
  } catch {
    return false;
  }
}

/** impact's `errors[] {field, level, message}` as `field: message; …`. */
function errorSummary(body: string): string | undefined {
  const b = JSON.parse(body) as { errors?: { field?: string; message?: string }[]; Message?: string; message?: string };
  if (Array.isArray(b.errors) && b.errors.length) {
    return b.errors.map((e) => (e.field ? `${e.field}: ${e.message ?? ''}` : String(e.message ?? ''))).join('; ');
  }
  return b.Message ?? b.message;
}
