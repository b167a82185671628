import { z } from 'zod';
import { classifyResponse } from '../classify.js';
import { defineDestination } from '../define.js';
import { baseUrl, secret } from '../settings.js';
import { chaseConversion } from './mapping.js';

export const chase = defineDestination({
  name: 'chase',
  settings: {
    apiKey: secret,
    baseUrl: baseUrl('https://services.meetchase.ai'),
    /** Tag event → Chase `conversion_type`. */
    events: z.record(z.string(), z.string().min(1).max(63)).default({}),
  },
  defaultConsent: ['ad_user_data'],
  secrets: (s) => [s.apiKey],
  routes: (s) => s.events,
  create(s) {
    const url = `${s.baseUrl}/api/v2/conversions`;
    return {
      map: (event, conversionType: string) => ({ payload: chaseConversion(event, conversionType) }),
      request: ([payload]) => ({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', 'x-api-key': s.apiKey },
        body: JSON.stringify(payload),
      }),
      // 202: queued; 200: the contact is not in the organisation, acknowledged, nothing to retry.
      check: (res, req) => classifyResponse('chase', req, res, (status) => status === 200 || status === 202),
    };
  },
});

export type ChaseSettings = z.infer<typeof chase.settings>;
