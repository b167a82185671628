import { z } from 'zod';
import { classifyResponse } from '../classify.js';
import { defineDestination } from '../define.js';
import { baseUrl, envBoolean, envNumber, httpUrl, secret, wholeNumberId } from '../settings.js';
import { GoalResolver } from './goals.js';
import { convertTrackBody, convertVisitor } from './mapping.js';
import type { ConvertVisitor } from './types.js';

/**
 * A Convert SDK key as the project's settings show it (e.g. `10035569/10034190`): one or two
 * path segments, sent as they are in `/v1/track/{sdkKey}` and `/api/v1/config/{sdkKey}`.
 */
const sdkKey = z
  .string()
  .trim()
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/, 'must be the SDK key from the project settings (letters, digits, _ . - and one /)');

export const convert = defineDestination({
  name: 'convert',
  settings: {
    accountId: wholeNumberId,
    projectId: wholeNumberId,
    /**
     * SDK key authentication (https://api.convert.com/doc/serving): track at `/v1/track/{sdkKey}` and
     * read the config at `/api/v1/config/{sdkKey}`. Without it, the default account/project endpoints,
     * which need no secret (unless the project disabled them: `disable_default_config`).
     */
    sdkKey: sdkKey.optional(),
    /** The SDK key's secret, sent as `Authorization: Bearer` (with `sdkKey`: to tracking and config). */
    sdkKeySecret: secret.optional(),
    /** Default `https://{projectId}.metrics.convertexperiments.com`. */
    trackBaseUrl: httpUrl.optional(),
    configBaseUrl: baseUrl('https://cdn-4.convertexperiments.com'),
    /** Tag event → Convert goal key (resolved to its id through the config API) or goal id. */
    goals: z
      .record(z.string(), z.union([z.string().trim().min(1).max(128), z.number().int().positive()]).transform(String))
      .default({}),
    /**
     * Ask Convert to fill in the visitor's stored bucketing and segments when the event carries none.
     * Convert: "this flag is only available for some plans", so it is off unless the plan has it.
     */
    enrichData: envBoolean().default(false),
    /** How long the goal list from the config API is cached, seconds. */
    goalsCacheSeconds: envNumber(z.number().int().min(1).max(86400)).default(300),
  },
  defaultConsent: ['analytics_storage'],
  secrets: (s) => [s.sdkKeySecret],
  routes: (s) => s.goals,
  routeSetting: 'goals',
  maxBatch: 100,
  // The config API answers only with working credentials when the project uses an SDK key.
  credentialCheck: (s) => ({
    method: 'GET',
    url: `${s.configBaseUrl}/api/v1/config/${s.sdkKey ?? `${s.accountId}/${s.projectId}`}`,
    headers: { accept: 'application/json', ...(s.sdkKey && s.sdkKeySecret ? { authorization: `Bearer ${s.sdkKeySecret}` } : {}) },
  }),
  create(s) {
    const trackBaseUrl = s.trackBaseUrl ?? `https://${s.projectId}.metrics.convertexperiments.com`;
    const project = s.sdkKey ?? `${s.accountId}/${s.projectId}`;
    const trackUrl = `${trackBaseUrl}/v1/track/${project}`;
    const bearer: Record<string, string> = s.sdkKeySecret ? { authorization: `Bearer ${s.sdkKeySecret}` } : {};
    const goals = new GoalResolver({
      configUrl: `${s.configBaseUrl}/api/v1/config/${project}`,
      // The default config endpoint needs no secret; with an SDK key the secret authenticates it.
      headers: s.sdkKey ? bearer : undefined,
      ttlMs: s.goalsCacheSeconds * 1000,
    });
    return {
      map: async (event, goal: string) => ({ payload: convertVisitor(event, await goals.resolve(goal)) }),
      request: (payloads: ConvertVisitor[]) => ({
        method: 'POST',
        url: trackUrl,
        headers: { 'content-type': 'application/json', ...bearer },
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
