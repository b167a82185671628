import { z } from 'zod';
import { classifyResponse } from '../../delivery/classify.js';
import { missingConsent } from '../consent.js';
import { commonSettings, secret } from '../settings.js';
import type { DestinationDefinition } from '../types.js';
import { GoalResolver } from './goals.js';
import { convertTrackBody, convertVisitor } from './mapping.js';
import type { ConvertVisitor } from './types.js';

const digits = z
  .union([z.string().trim().regex(/^\d+$/, 'must be a whole number'), z.number().int().positive()])
  .transform(String);
const url = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((u) => u.replace(/\/+$/, ''));

const settings = z
  .object({
    accountId: digits,
    projectId: digits,
    /** When the project's SDK key has a secret: sent as `Authorization: Bearer` to the tracking API. */
    sdkKeySecret: secret.optional(),
    /** Default `https://{projectId}.metrics.convertexperiments.com`. */
    trackBaseUrl: url.optional(),
    configBaseUrl: url.default('https://cdn-4.convertexperiments.com'),
    /** Tag event → Convert goal key (resolved to its id through the config API) or goal id. */
    goals: z.record(z.string(), z.union([z.string().trim().min(1).max(128), z.number().int().positive()]).transform(String)).default({}),
    /** Ask Convert to fill in the visitor's stored bucketing (needed to attribute server-side conversions). */
    enrichData: z.boolean().default(true),
    /** How long the goal list from the config API is cached, seconds. */
    goalsCacheSeconds: z.number().int().min(1).max(86400).default(300),
    ...commonSettings(['analytics_storage']),
  })
  .strict()
  .transform((s) => ({ ...s, trackBaseUrl: s.trackBaseUrl ?? `https://${s.projectId}.metrics.convertexperiments.com` }));

export type ConvertSettings = z.infer<typeof settings>;

export const convert: DestinationDefinition<ConvertSettings, ConvertVisitor> = {
  name: 'convert',
  settings,
  create(s) {
    const trackUrl = `${s.trackBaseUrl}/v1/track/${s.accountId}/${s.projectId}`;
    const goals = new GoalResolver({
      configUrl: `${s.configBaseUrl}/api/v1/config/${s.accountId}/${s.projectId}`,
      ttlMs: s.goalsCacheSeconds * 1000,
    });
    return {
      name: 'convert',
      maxBatch: 100,
      secrets: s.sdkKeySecret ? [s.sdkKeySecret] : [],
      vendorEvent: (name) => (Object.hasOwn(s.goals, name) ? s.goals[name] : undefined),
      async map(event) {
        const missing = missingConsent(event.consent, s.consent as never);
        if (missing) return { skip: `consent: ${missing}` };
        const goalId = await goals.resolve(s.goals[event.name]!);
        return { payload: convertVisitor(event, goalId) };
      },
      request: (payloads) => ({
        method: 'POST',
        url: trackUrl,
        headers: {
          'content-type': 'application/json',
          ...(s.sdkKeySecret ? { authorization: `Bearer ${s.sdkKeySecret}` } : {}),
        },
        body: JSON.stringify(convertTrackBody(s.accountId, s.projectId, s.enrichData, payloads)),
      }),
      check: (res, req) => classifyResponse('convert', req, res, undefined, errorSummary),
    };
  },
};

/** Convert's error body `{code, message}`. */
function errorSummary(body: string): string | undefined {
  const b = JSON.parse(body) as { message?: unknown };
  return typeof b.message === 'string' ? b.message : undefined;
}
