import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { normaliseCountry, normaliseState, normaliseText, sha256Hex, userData } from '../pii.js';
import { currencyCode, finite, money, text } from '../values.js';
import {
  nextdoorDeliveryCategories,
  type NextdoorConversion,
  type NextdoorCustom,
  type NextdoorCustomer,
  type NextdoorEventName,
  type NextdoorProduct,
} from './types.js';

export interface NextdoorMappingOptions {
  eventName: NextdoorEventName;
  dataSourceId: string;
  testEvent?: string;
  partnerId?: string;
  /** Alpha-2 country for national phone numbers when the address has none. */
  defaultCountry?: string;
  /** Send with `restricted_data_usage: 1` (the visitor opted out of sale/sharing, e.g. GPC). */
  restricted?: boolean;
}

/** Nextdoor's `restricted_data_usage_state` codes (https://developer.nextdoor.com/reference/conversions-track). */
export const restrictedStates: Readonly<Record<string, number>> = {
  ca: 1000, co: 1001, ct: 1002, ia: 1003, or: 1004, tx: 1005, mt: 1006, de: 1007, ne: 1008, nh: 1009,
  nj: 1010, ut: 1011, va: 1012, mn: 1013, tn: 1014, md: 1015, in: 1016, ky: 1017, ri: 1018,
};


function isHttpUrl(url: string | undefined): url is string {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function hashedCustomer(event: StoredEvent, defaultCountry: string | undefined): NextdoorCustomer {
  // Nextdoor takes gender `o` (other) as well as `m` and `f`.
  const ud = userData(event.properties, defaultCountry, { otherGender: true });
  const externalId = normaliseText(event.properties?.user_id);
  const h = (v: string | undefined) => (v === undefined ? undefined : sha256Hex(v));
  const customer: NextdoorCustomer = {
    email: h(ud.email),
    phone_number: h(ud.phone),
    first_name: h(ud.firstName),
    last_name: h(ud.lastName),
    date_of_birth: h(ud.dateOfBirth),
    gender: h(ud.gender),
    street_address: h(ud.street),
    city: h(ud.city),
    state: h(ud.state),
    zip_code: h(ud.zip),
    country: h(ud.country),
    external_id: h(externalId),
    // Nextdoor's own click id only: a generic `click_id` belongs to some other network.
    click_id: event.clickIds?.ndclid || undefined,
    client_ip_address: event.context.ip || undefined,
    client_user_agent: event.context.userAgent || undefined,
  };
  return Object.fromEntries(Object.entries(customer).filter(([, v]) => v !== undefined)) as NextdoorCustomer;
}

function products(items: unknown): NextdoorProduct[] {
  if (!Array.isArray(items)) return [];
  const out: NextdoorProduct[] = [];
  for (const item of items) {
    if (!item || typeof item !== 'object') continue;
    const i = item as Record<string, unknown>;
    const id = text(i.item_id);
    if (!id) continue; // Nextdoor identifies a product by id
    const p: NextdoorProduct = { id };
    const name = text(i.item_name);
    if (name) p.content_name = name;
    const quantity = finite(i.quantity);
    if (quantity !== undefined && Number.isInteger(quantity) && quantity > 0) p.quantity = quantity;
    const price = finite(i.price);
    if (price !== undefined && price >= 0) p.item_price = Math.round(price * 100) / 100;
    out.push(p);
  }
  return out;
}

/**
 * The tag's event → one Nextdoor conversion. Personal data is normalised and SHA-256 hashed (pii.ts);
 * `click_id` (from `ndclid` only), `client_ip_address` and `client_user_agent` are plain. Throws
 * InvalidEventError when a required field cannot be filled: `action_source_url` (the page URL,
 * http/https) and, for purchase, `custom.order_value` (needs `value` and `currency`). Optional values
 * Nextdoor would not accept (an `order_value` of another event without a currency or with a negative
 * value, an unknown `delivery_category`, an item without `item_id`) are left out.
 */
export function nextdoorConversion(event: StoredEvent, o: NextdoorMappingOptions): NextdoorConversion {
  const fail = (why: string) => new InvalidEventError(why, { destination: 'nextdoor' });
  const props = event.properties ?? {};
  if (!isHttpUrl(event.url)) throw fail('action_source_url: the event has no http(s) page url, required with action_source "website"');

  const custom: NextdoorCustom = {};
  const value = finite(props.value);
  const currency = currencyCode(props.currency);
  if (o.eventName === 'purchase') {
    if (value === undefined || value < 0) throw fail('custom.order_value: purchase needs properties.value (a number ≥ 0)');
    if (!currency) throw fail('custom.order_value: purchase needs properties.currency, a 3-letter ISO 4217 code');
    custom.order_value = `${currency}${money(value)}`;
  } else if (value !== undefined && value >= 0 && currency) {
    // Optional for other events: sent when it can be written, else left out rather than refusing the event.
    custom.order_value = `${currency}${money(value)}`;
  }
  const orderId = text(props.transaction_id);
  if (orderId) custom.order_id = orderId;
  const category = text(props.delivery_category);
  if (category && (nextdoorDeliveryCategories as readonly string[]).includes(category)) {
    custom.delivery_category = category as NextdoorCustom['delivery_category'];
  }
  const items = products(props.items);
  if (items.length) custom.product_context = items;

  const conversion: NextdoorConversion = {
    event_name: o.eventName,
    event_id: event.id,
    event_time_epoch: Math.floor(event.time / 1000),
    action_source: 'website',
    action_source_url: event.url,
    data_source_id: o.dataSourceId,
    customer: hashedCustomer(event, o.defaultCountry),
  };
  if (Object.keys(custom).length) conversion.custom = custom;
  if (o.restricted) {
    conversion.restricted_data_usage = 1;
    const address = (props.user_data as { address?: unknown } | undefined)?.address;
    const a = (Array.isArray(address) ? address[0] : address) as Record<string, unknown> | undefined;
    const country = normaliseCountry(a?.country) ?? normaliseCountry(o.defaultCountry);
    if (country === 'us') {
      conversion.restricted_data_usage_country = 1;
      const state = normaliseState(a?.region, 'us');
      if (state && restrictedStates[state]) conversion.restricted_data_usage_state = restrictedStates[state];
    }
  }
  if (o.testEvent) conversion.test_event = o.testEvent;
  if (o.partnerId) conversion.partner_id = o.partnerId;
  return conversion;
}
