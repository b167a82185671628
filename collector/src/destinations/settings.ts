import { z } from 'zod';

export const consentKeys = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'] as const;

/** Settings every destination takes, with `defaultConsent` as the vendor's sensible default. */
export function commonSettings(defaultConsent: (typeof consentKeys)[number][]) {
  return {
    enabled: z.boolean().default(true),
    dryRun: z.boolean().default(false),
    consent: z.array(z.enum(consentKeys)).default(defaultConsent),
  };
}

/** An http(s) base URL without a trailing slash. */
export const baseUrl = (fallback: string) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default(fallback)
    .transform((u) => u.replace(/\/+$/, ''));

export const secret = z.string().min(1, 'must not be empty');
