import { z } from 'zod';
import { classifyResponse } from '../../delivery/classify.js';
import { missingConsent } from '../consent.js';
import { baseUrl, commonSettings, secret } from '../settings.js';
import type { DestinationDefinition } from '../types.js';
import { impactConversion } from './mapping.js';
import type { ImpactConversion, ImpactEventType } from './types.js';

/** impact's integer ids (CampaignId, EventTypeId) may be written as numbers or digit strings. */
const integerId = z
  .union([z.string().trim().regex(/^\d+$/, 'must be a whole number'), z.number().int().positive()])
  .transform(String);

const eventType: z.ZodType<ImpactEventType> = z.union([
  z.object({ eventTypeId: integerId }).strict(),
  z.object({ eventTypeCode: z.string().trim().min(1).max(64) }).strict(),
]);

const settings = z
  .object({
    accountSid: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'must be the account SID (letters, digits, - and _)'),
    authToken: secret,
    campaignId: integerId,
    baseUrl: baseUrl('https://api.impact.com'),
    /** Tag event → the impact event type (action tracker) it is sent as. */
    events: z.record(z.string(), eventType).default({}),
    ...commonSettings(['ad_storage', 'ad_user_data']),
  })
  .strict();

export type ImpactSettings = z.infer<typeof settings>;

export const impact: DestinationDefinition<ImpactSettings, ImpactConversion> = {
  name: 'impact',
  settings,
  create(s) {
    const url = `${s.baseUrl}/Advertisers/${encodeURIComponent(s.accountSid)}/Conversions`;
    const basic = Buffer.from(`${s.accountSid}:${s.authToken}`).toString('base64');
    return {
      name: 'impact',
      maxBatch: 1,
      secrets: [s.authToken, basic],
      vendorEvent: (name) => {
        if (!Object.hasOwn(s.events, name)) return undefined;
        const t = s.events[name]!;
        return 'eventTypeId' in t ? t.eventTypeId : t.eventTypeCode;
      },
      map(event) {
        const missing = missingConsent(event.consent, s.consent as never);
        if (missing) return { skip: `consent: ${missing}` };
        return { payload: impactConversion(event, { campaignId: s.campaignId, eventType: s.events[event.name]! }) };
      },
      request: ([payload]) => ({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${basic}`,
        },
        body: new URLSearchParams(payload).toString(),
      }),
      // 200 {"Status":"QUEUED"}; a 200 that says "ERROR" is a refusal too.
      check: (res, req) =>
        classifyResponse('impact', req, res, (status, body) => status >= 200 && status < 300 && !saysError(body), errorSummary),
    };
  },
};

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
