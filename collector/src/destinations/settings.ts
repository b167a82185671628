import { z } from 'zod';
import { normaliseCountry } from './pii.js';

/** Zod schemas for values several destinations' settings hold. */

/** The shortest secret tagrelay takes: a shorter one would also match ordinary text when it is redacted. */
export const MIN_SECRET_LENGTH = 8;

/** A credential (its value is redacted everywhere). */
export const secret = z
  .string()
  .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters (a shorter secret cannot be redacted safely)`);

/** An http(s) URL without a trailing slash. */
export const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((u) => u.replace(/\/+$/, ''));

/** A vendor's base URL, `fallback` when the config gives none. */
export const baseUrl = (fallback: string) => httpUrl.default(fallback);

/** Digits, as `${NAME}` brings a number from the environment (it always substitutes text). */
const NUMBER_TEXT = /^\s*-?\d+(\.\d+)?\s*$/;

/** A number of the config, or its digits from the environment: `"concurrency": "${CONCURRENCY}"`. */
export const envNumber = <T extends z.ZodType<number>>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && NUMBER_TEXT.test(v) ? Number(v) : v), schema);

/** A boolean of the config, or `true` / `false` from the environment: `"dryRun": "${DRY_RUN}"`. */
export const envBoolean = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** A vendor's integer id (impact's CampaignId, Convert's account), written as a number or as digits. */
export const wholeNumberId = z
  .union([z.string().trim().regex(/^\d+$/, 'must be a whole number'), z.number().int().positive()])
  .transform(String);

/** An ISO 3166-1 alpha-2 country code in any case (`US`, `gb`), kept lowercase. */
export const countryCode = z
  .string()
  .refine((c) => normaliseCountry(c) !== undefined, 'must be an ISO 3166-1 alpha-2 country code')
  .transform((c) => normaliseCountry(c)!);
