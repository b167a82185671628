import { z } from 'zod';
import { classifyResponse } from '../classify.js';
import { defineDestination } from '../define.js';
import { baseUrl, httpUrl, secret, wholeNumberId } from '../settings.js';
import { GoalResolver } from './goals.js';
import { convertTrackBody, convertVisitor } from './mapping.js';
import type { ConvertVisitor } from './types.js';

export const convert = defineDestination({
  name: 'convert',
  settings: {
    accountId: wholeNumberId,
    projectId: wholeNumberId,
    /** When the project's SDK key has a secret: sent as `Authorization: Bearer` to the tracking API. */
    sdkKeySecret: secret.optional(),
    /** Default `https://{projectId}.metrics.convertexperiments.com`. */
    trackBaseUrl: httpUrl.optional(),
    configBaseUrl: baseUrl('https://cdn-4.convertexperiments.com'),
    /** Tag event → Convert goal key (resolved to its id through the config API) or goal id. */
    goals: z
      .record(z.string(), z.union([z.string().trim().min(1).max(128), z.number().int().positive()]).transform(String))
      .default({}),
    /** Ask Convert to fill in the visitor's stored bucketing (needed to attribute server-side conversions). */
    enrichData: z.boolean().default(true),
    /** How long the goal list from the config API is cached, seconds. */
    goalsCacheSeconds: z.number().int().min(1).max(86400).default(300),
  },
  defaultConsent: ['analytics_storage'],
  secrets: (s) => [s.sdkKeySecret],
  routes: (s) => s.goals,
  maxBatch: 100,
  create(s) {
    const trackBaseUrl = s.trackBaseUrl ?? `https://${s.projectId}.metrics.convertexperiments.com`;
    const trackUrl = `${trackBaseUrl}/v1/track/${s.accountId}/${s.projectId}`;
    const goals = new GoalResolver({
      configUrl: `${s.configBaseUrl}/api/v1/config/${s.accountId}/${s.projectId}`,
      ttlMs: s.goalsCacheSeconds * 1000,
    });
    return {
      map: async (event, goal: string) => ({ payload: convertVisitor(event, await goals.resolve(goal)) }),
      request: (payloads: ConvertVisitor[]) => ({
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
});

export type ConvertSettings = z.infer<typeof convert.settings>;

/** Convert's error body `{code, message}`. */
function errorSummary(body: string): string | undefined {
  const b = JSON.parse(body) as { message?: unknown };
  return typeof b.message === 'string' ? b.message : undefined;
}
