import { InvalidEventError } from '../errors.js';
import type { Consent, StoredEvent } from '../../event.js';
import { givenEmail, looksLikeEmail, normaliseEmail, sha1Hex } from '../pii.js';
import { currencyCode, finite, money, text } from '../values.js';
import type { ImpactConversion, ImpactEventType } from './types.js';

export interface ImpactMappingOptions {
  campaignId: string;
  eventType: ImpactEventType;
  /** `ItemCategory{n}` of an item without `item_category` (impact requires a category with item-level details). */
  defaultItemCategory?: string;
}

/** What `ItemCategory{n}` is when neither the item nor the settings give one. */
export const DEFAULT_ITEM_CATEGORY = 'default';
const MAX_ITEM_CATEGORY = 255;

const MAX_ORDER_ID = 64;
const MAX_CLICK_ID = 64;
const MAX_PROFILE_ID = 70;
/** Click id query parameters impact uses, in order of preference. */
export const impactClickParams = ['clickid', 'irclickid', 'im_ref'] as const;

/**
 * `CustomerStatus` from what the event says, in the Google tag's purchase parameters: `customer_type`
 * (`new` / `returning`), else the `new_customer` boolean
 * (https://developers.google.com/tag-platform/gtagjs/reference/shopify-event-parameters#purchase). `NEW` and `EXISTING` are the values
 * impact maps by default (https://help.impact.com/en/support/solutions/articles/48001232653-configure-customer-status-mapping);
 * anything else is left out.
 */
export function customerStatus(props: Record<string, unknown>): 'NEW' | 'EXISTING' | undefined {
  const type = typeof props.customer_type === 'string' ? props.customer_type.trim().toLowerCase() : undefined;
  if (type === 'new') return 'NEW';
  if (type === 'returning' || type === 'existing') return 'EXISTING';
  if (props.new_customer === true) return 'NEW';
  if (props.new_customer === false) return 'EXISTING';
  return undefined;
}

/** ISO 8601 in UTC without milliseconds, as impact's examples write it. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * `TrackingConsent`: `true` when the visitor granted ad_storage, `false` when they denied it or
 * ad_user_data or sent GPC, left out when the event says nothing (implied consent).
 */
export function trackingConsent(consent: Consent | undefined): 'true' | 'false' | undefined {
  if (!consent) return undefined;
  if (consent.ad_storage === 'denied' || consent.ad_user_data === 'denied' || consent.gpc) return 'false';
  if (consent.ad_storage === 'granted') return 'true';
  return undefined;
}

interface Item {
  sku: string;
  name?: string;
  category?: string;
  quantity: number;
  /** GA4's `price`: the unit price after the item's discount. */
  price: number;
  /** GA4's `discount`: the discount on each unit, already taken off `price`. */
  discount?: number;
}

/** Items impact can take at item level: every one needs an id and a unit price; else undefined (order level). */
function itemsOf(value: unknown, fail: (why: string) => Error): Item[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const items: Item[] = [];
  for (const raw of value) {
    const i = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const sku = text(i.item_id);
    const price = finite(i.price);
    if (!sku || price === undefined) return undefined;
    const quantity = i.quantity === undefined ? 1 : finite(i.quantity);
    if (quantity === undefined || !Number.isInteger(quantity) || quantity < 1) throw fail(`ItemQuantity: item ${sku} quantity must be a whole number ≥ 1`);
    if (price < 0) throw fail(`ItemPrice: item ${sku} price must be ≥ 0`);
    const discount = finite(i.discount);
    items.push({
      sku,
      name: text(i.item_name),
      category: text(i.item_category),
      quantity,
      price,
      discount: discount !== undefined && discount > 0 ? discount : undefined,
    });
  }
  return items;
}

/**
 * The tag's event → impact.com conversion form fields. `OrderId` is `transaction_id`, else the event
 * id (stable, ≤ 64); `ClickId` from `clickid`/`irclickid`/`im_ref` (one over 64 characters is left
 * out: impact would refuse the whole conversion); `CustomProfileId` the anonymous id; `CustomerId` the
 * site's `user_id` (left out if it is an email); `CustomerEmail` SHA-1 hex. Items carry
 * `ItemCategory{n}` (the item's, else `defaultItemCategory`) and GA4's unit `discount` as
 * `ItemDiscount{n}`, added back to `ItemPrice{n}` (GA4's price is after it,
 * https://developers.google.com/analytics/devguides/collection/ga4/apply-discount; impact's before it);
 * `discount` on the order is `OrderDiscount`, with items only (at order level `value` is already
 * the subtotal after discounts). Throws InvalidEventError when impact's rules cannot be met
 * (lengths, no attribution key, money without a currency).
 */
export function impactConversion(event: StoredEvent, o: ImpactMappingOptions): ImpactConversion {
  const fail = (why: string) => new InvalidEventError(why, { destination: 'impact' });
  const props = event.properties ?? {};
  const f: Record<string, string> = { CampaignId: o.campaignId };
  if ('eventTypeId' in o.eventType) f.EventTypeId = o.eventType.eventTypeId;
  else f.EventTypeCode = o.eventType.eventTypeCode;
  f.EventDate = isoSeconds(event.time);

  const orderId = text(props.transaction_id) ?? event.id;
  if (orderId.length > MAX_ORDER_ID) throw fail(`OrderId: transaction_id is longer than ${MAX_ORDER_ID} characters`);
  f.OrderId = orderId;

  // An over-long click id cannot be one impact issued: it is left out, not the whole conversion.
  const tooLong = impactClickParams.filter((p) => (event.clickIds?.[p]?.length ?? 0) > MAX_CLICK_ID);
  const clickParam = impactClickParams.find((p) => event.clickIds?.[p] && event.clickIds[p]!.length <= MAX_CLICK_ID);
  if (clickParam) f.ClickId = event.clickIds![clickParam]!;
  if (event.anonymousId && event.anonymousId.length <= MAX_PROFILE_ID) f.CustomProfileId = event.anonymousId;
  const customerId = text(props.user_id);
  if (customerId && !looksLikeEmail(customerId)) f.CustomerId = customerId;
  const email = normaliseEmail(givenEmail(props));
  if (email) f.CustomerEmail = sha1Hex(email);
  const coupon = text(props.coupon);
  if (coupon) f.OrderPromoCode = coupon;
  if (!f.ClickId && !f.CustomProfileId && !f.CustomerId && !f.OrderPromoCode) {
    const dropped = tooLong.length ? ` (${tooLong.join(', ')} left out: longer than ${MAX_CLICK_ID} characters)` : '';
    throw fail(`no attribution key: the event has no click id (clickid, irclickid, im_ref)${dropped}, anonymous id, user_id or coupon`);
  }

  const amounts: Record<string, string> = {};
  const items = itemsOf(props.items, fail);
  if (items) {
    const fallbackCategory = o.defaultItemCategory ?? DEFAULT_ITEM_CATEGORY;
    items.forEach((item, n) => {
      const i = n + 1;
      amounts[`ItemSku${i}`] = item.sku;
      if (item.name) amounts[`ItemName${i}`] = item.name;
      amounts[`ItemCategory${i}`] = item.category && item.category.length <= MAX_ITEM_CATEGORY ? item.category : fallbackCategory;
      amounts[`ItemQuantity${i}`] = String(item.quantity);
      amounts[`ItemPrice${i}`] = money(item.price + (item.discount ?? 0));
      if (item.discount) amounts[`ItemDiscount${i}`] = money(item.discount);
    });
    const discount = finite(props.discount);
    if (discount !== undefined && discount > 0) amounts.OrderDiscount = money(discount);
  } else {
    const value = finite(props.value);
    if (value !== undefined) {
      if (value < 0) throw fail('OrderSubTotalPostDiscount: value must be ≥ 0');
      amounts.OrderSubTotalPostDiscount = money(value);
    }
  }
  for (const [prop, field] of [['tax', 'OrderTax'], ['shipping', 'OrderShipping']] as const) {
    const v = finite(props[prop]);
    if (v !== undefined && v >= 0) amounts[field] = money(v);
  }
  if (Object.keys(amounts).length) {
    const currency = currencyCode(props.currency);
    if (!currency) throw fail('CurrencyCode: properties.currency must be a 3-letter ISO 4217 code when amounts are sent');
    f.CurrencyCode = currency;
    Object.assign(f, amounts);
  }

  const status = customerStatus(props);
  if (status) f.CustomerStatus = status;
  const consent = trackingConsent(event.consent);
  if (consent) f.TrackingConsent = consent;
  if (event.context.ip) f.IpAddress = event.context.ip;
  if (event.context.userAgent) f.UserAgent = event.context.userAgent;
  return f as ImpactConversion;
}
