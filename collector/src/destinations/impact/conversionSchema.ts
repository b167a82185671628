/**
 * tagrelay's own JSON Schema (draft 2020-12) of the impact.com Conversions form it sends:
 * `POST https://api.impact.com/Advertisers/{AccountSID}/Conversions`, application/x-www-form-urlencoded.
 * Written from impact's public documentation; the contract test (openapi.contract.test.ts) checks
 * every request the destination builds against it. Every value is a string because the body is a
 * form. Only the fields tagrelay sends are allowed: a mapping that starts sending another impact
 * field must add it here first, with its documented rule.
 *
 * Sources (impact.com Brand API documentation):
 * - Create a conversion: https://integrations.impact.com/impact-brand/reference/submit-a-conversion
 * - The conversion object (types, maximum lengths): https://integrations.impact.com/impact-brand/reference/the-conversion-object
 * - Order-level data: https://integrations.impact.com/impact-brand/docs/order-level-data
 * - Item-level data: https://integrations.impact.com/impact-brand/docs/item-level-data
 * - Customer email hashing: https://integrations.impact.com/impact-brand/docs/impactcom-customer-email-hashing-explained
 */
import type { ImpactConversionFields } from './types.js';

/** The rule for one form field (values are always strings). */
export interface FieldRule {
  type: 'string';
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: 'date-time';
  enum?: readonly string[];
  not?: { pattern: string };
  anyOf?: readonly { format: 'ipv4' | 'ipv6' }[];
}

/** "integer (10)": CampaignId, EventTypeId (https://integrations.impact.com/impact-brand/reference/the-conversion-object). */
const INTEGER_10 = '^[0-9]{1,10}$';
/**
 * Amounts: impact documents them as DECIMAL (14,2) (https://integrations.impact.com/impact-brand/docs/order-level-data,
 * https://integrations.impact.com/impact-brand/docs/item-level-data); tagrelay sends every amount with exactly
 * 2 decimals and never a negative one.
 */
const AMOUNT = '^[0-9]{1,12}\\.[0-9]{2}$';
/** Indexed item fields: ItemSku1, ItemSku2, … (https://integrations.impact.com/impact-brand/reference/the-conversion-object). */
const INDEX = '[1-9][0-9]*';
/** Every field that carries money; any of them makes CurrencyCode required (see `allOf` below). */
const MONEY_FIELDS = `^(OrderSubTotalPostDiscount|OrderTax|OrderShipping|OrderDiscount|ItemPrice${INDEX}|ItemDiscount${INDEX})$`;
/** What looks like an email address (a CustomerId must never be one). */
const EMAIL = '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$';

const text = (maxLength?: number): FieldRule => ({ type: 'string', minLength: 1, ...(maxLength ? { maxLength } : {}) });

/** The named fields: exactly the keys of ImpactConversionFields (the compiler checks both ways). */
const properties = {
  // Required; "integer (10)". https://integrations.impact.com/impact-brand/reference/the-conversion-object
  CampaignId: { type: 'string', pattern: INTEGER_10 },
  // "integer (10)"; one of EventTypeId/EventTypeCode (see `oneOf`). https://integrations.impact.com/impact-brand/reference/the-conversion-object
  EventTypeId: { type: 'string', pattern: INTEGER_10 },
  // "string (64)". https://integrations.impact.com/impact-brand/reference/the-conversion-object
  EventTypeCode: text(64),
  // Required; ISO 8601 with a time zone (RFC 3339 date-time); impact also takes "NOW", which tagrelay never sends.
  // https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  EventDate: { type: 'string', format: 'date-time' },
  // Required; "string (64)", unique per event type. https://integrations.impact.com/impact-brand/reference/the-conversion-object
  OrderId: text(64),
  // Attribution key; "string (64)", case-sensitive. https://integrations.impact.com/impact-brand/reference/the-conversion-object
  ClickId: text(64),
  // Attribution key; "string (70)". https://integrations.impact.com/impact-brand/reference/the-conversion-object
  CustomProfileId: text(70),
  // Attribution key; "string (255)", non-identifying: "plain text email addresses are not permitted".
  // https://integrations.impact.com/impact-brand/reference/the-conversion-object
  CustomerId: { ...text(255), not: { pattern: EMAIL } },
  // impact takes a raw address, a SHA-1 hash or an HMAC; tagrelay only ever sends the SHA-1 hex of the
  // normalised address. https://integrations.impact.com/impact-brand/docs/impactcom-customer-email-hashing-explained
  CustomerEmail: { type: 'string', pattern: '^[0-9a-f]{40}$' },
  // Attribution key when the code is assigned to a partner. https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  OrderPromoCode: text(),
  // "STRING (3)", the ISO 4217 code; tagrelay sends it upper-case. https://integrations.impact.com/impact-brand/docs/order-level-data
  CurrencyCode: { type: 'string', pattern: '^[A-Z]{3}$' },
  // Order-level amount, only when no items are sent (see `allOf`). https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  OrderSubTotalPostDiscount: { type: 'string', pattern: AMOUNT },
  // "DECIMAL (14,2)". https://integrations.impact.com/impact-brand/docs/order-level-data
  OrderTax: { type: 'string', pattern: AMOUNT },
  // "DECIMAL (14,2)". https://integrations.impact.com/impact-brand/docs/order-level-data
  OrderShipping: { type: 'string', pattern: AMOUNT },
  // The discount on the whole order, a decimal; impact subtracts it from the order total ("If item amounts are
  // used, this discount will be subtracted proportionally from each item amount").
  // https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  OrderDiscount: { type: 'string', pattern: AMOUNT },
  // "Status of the customer, such as NEW or EXISTING"; values other than those must be mapped at impact first, so
  // tagrelay sends only these two. https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  CustomerStatus: { type: 'string', enum: ['NEW', 'EXISTING'] },
  // Whether the visitor consented to tracking: a boolean. https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  TrackingConsent: { type: 'string', enum: ['true', 'false'] },
  // The customer's IP address (fraud detection). https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  IpAddress: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
  // The customer's user agent (device reporting). https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  UserAgent: text(),
} as const satisfies Record<keyof ImpactConversionFields, FieldRule>;

/**
 * Item fields, numbered from 1 (https://integrations.impact.com/impact-brand/reference/submit-a-conversion,
 * types and lengths from https://integrations.impact.com/impact-brand/docs/item-level-data). Which of them
 * each item must have is checked by `itemProblems`, which JSON Schema cannot express.
 */
const patternProperties = {
  // SKU: "STRING (255)".
  [`^ItemSku${INDEX}$`]: text(255),
  // Name: "STRING (255)".
  [`^ItemName${INDEX}$`]: text(255),
  // Category: "STRING (255)".
  [`^ItemCategory${INDEX}$`]: text(255),
  // Quantity: "INTEGER … expressed as a whole number"; tagrelay sends 1 or more.
  [`^ItemQuantity${INDEX}$`]: { type: 'string', pattern: '^[1-9][0-9]*$' },
  // Unit price: "DECIMAL", sent with 2 decimals. ItemSubTotal is the alternative and is never sent.
  [`^ItemPrice${INDEX}$`]: { type: 'string', pattern: AMOUNT },
  // "Discount applied to each item purchased of this type (not to the entire line item)": a decimal.
  [`^ItemDiscount${INDEX}$`]: { type: 'string', pattern: AMOUNT },
} satisfies Record<string, FieldRule>;

export const impactConversionSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'impact.com Conversions form fields sent by tagrelay',
  type: 'object',
  // Required: CampaignId, EventDate, OrderId. https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  required: ['CampaignId', 'EventDate', 'OrderId'],
  properties,
  patternProperties,
  // No unknown fields: nothing impact does not document, and nothing tagrelay has not written a rule for.
  additionalProperties: false,
  // Event identifier: EventTypeId "required, unless code is provided"; tagrelay sends exactly one.
  // https://integrations.impact.com/impact-brand/reference/submit-a-conversion
  oneOf: [{ required: ['EventTypeId'] }, { required: ['EventTypeCode'] }],
  allOf: [
    // Attribution key: "a minimum of 1 parameter is required" (of those tagrelay sends: ClickId, CustomProfileId,
    // CustomerId, OrderPromoCode). https://integrations.impact.com/impact-brand/reference/submit-a-conversion
    { anyOf: ['ClickId', 'CustomProfileId', 'CustomerId', 'OrderPromoCode'].map((k) => ({ required: [k] })) },
    // CurrencyCode whenever an amount is sent (impact would otherwise assume the account's default currency).
    // https://integrations.impact.com/impact-brand/docs/order-level-data
    { anyOf: [{ propertyNames: { not: { pattern: MONEY_FIELDS } } }, { required: ['CurrencyCode'] }] },
    // OrderSubTotalPostDiscount is for order-level reporting: "If you're submitting item-level data, this value
    // should not be submitted." https://integrations.impact.com/impact-brand/reference/submit-a-conversion
    { if: { required: ['OrderSubTotalPostDiscount'] }, then: { propertyNames: { not: { pattern: '^Item' } } } },
  ],
} as const;

/**
 * The item rules JSON Schema cannot express: items are numbered 1, 2, … without gaps, and every item
 * has ItemSku{n}, ItemCategory{n} and ItemQuantity{n} ("required if passing item-level details") and
 * ItemPrice{n} ("required if ItemSubtotal can't be reported"; tagrelay never sends ItemSubTotal).
 * https://integrations.impact.com/impact-brand/reference/submit-a-conversion
 * Returns one message per problem; empty when the items conform.
 */
export function itemProblems(form: Readonly<Record<string, string>>): string[] {
  const indexes = new Set<number>();
  for (const key of Object.keys(form)) {
    const m = /^Item[A-Za-z]+?([1-9][0-9]*)$/.exec(key);
    if (m) indexes.add(Number(m[1]));
  }
  const out: string[] = [];
  const count = indexes.size;
  for (const n of indexes) if (n > count) out.push(`item ${n}: items must be numbered 1 to ${count} without gaps`);
  for (const n of indexes) {
    for (const field of ['ItemSku', 'ItemCategory', 'ItemQuantity', 'ItemPrice']) {
      if (!(`${field}${n}` in form)) out.push(`item ${n}: ${field}${n} missing`);
    }
  }
  return out;
}
