/**
 * impact.com `POST /Advertisers/{AccountSID}/Conversions` form fields
 * (https://integrations.impact.com/impact-brand/reference/submit-a-conversion; the rules tagrelay
 * checks them against are in conversionSchema.ts). Every value is a string because the body is
 * application/x-www-form-urlencoded; keys keep the order they are set in.
 */
export interface ImpactConversionFields {
  CampaignId: string;
  EventTypeId?: string;
  EventTypeCode?: string;
  /** ISO 8601, e.g. 2026-11-22T14:07:20Z. */
  EventDate: string;
  /** At most 64 characters; unique per event type. */
  OrderId: string;
  /** At most 64 characters, case-sensitive. */
  ClickId?: string;
  /** At most 70 characters. */
  CustomProfileId?: string;
  /** Never an email address. */
  CustomerId?: string;
  /** SHA-1 hex of the trimmed, lowercased address. */
  CustomerEmail?: string;
  OrderPromoCode?: string;
  /** ISO 4217; required whenever an amount is sent. */
  CurrencyCode?: string;
  /** Order-level amount (2 decimals), only when no items are sent. */
  OrderSubTotalPostDiscount?: string;
  OrderTax?: string;
  OrderShipping?: string;
  /** Discount on the whole order (2 decimals), only with item-level details. */
  OrderDiscount?: string;
  /** `NEW` or `EXISTING`, when the event says whether the customer is new. */
  CustomerStatus?: string;
  /** `true` / `false`. */
  TrackingConsent?: string;
  IpAddress?: string;
  UserAgent?: string;
}

/** The known fields plus numbered item fields: ItemSku1, ItemName1, ItemCategory1, ItemQuantity1, ItemPrice1, ItemDiscount1, … */
export type ImpactConversion = ImpactConversionFields & Record<string, string>;

/** The event type a tag event is sent as: an id or a code configured at impact. */
export type ImpactEventType = { eventTypeId: string } | { eventTypeCode: string };
