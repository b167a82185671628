import { z } from 'zod';
import { classifyResponse } from '../../delivery/classify.js';
import { missingConsent } from '../consent.js';
import { baseUrl, commonSettings, secret } from '../settings.js';
import type { DestinationDefinition } from '../types.js';
import { chaseConversion } from './mapping.js';
import type { ChaseConversion } from './types.js';

const settings = z
  .object({
    apiKey: secret,
    baseUrl: baseUrl('https://services.meetchase.ai'),
    events: z.record(z.string(), z.string().min(1).max(63)).default({}),
    ...commonSettings(['ad_user_data']),
  })
  .strict();

export type ChaseSettings = z.infer<typeof settings>;

export const chase: DestinationDefinition<ChaseSettings, ChaseConversion> = {
  name: 'chase',
  settings,
  create(s) {
    const url = `${s.baseUrl}/api/v2/conversions`;
    return {
      name: 'chase',
      maxBatch: 1,
      secrets: [s.apiKey],
      vendorEvent: (name) => (Object.hasOwn(s.events, name) ? s.events[name] : undefined),
      map(event) {
        const missing = missingConsent(event.consent, s.consent as never);
        if (missing) return { skip: `consent: ${missing}` };
        return { payload: chaseConversion(event, s.events[event.name]!) };
      },
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
};
