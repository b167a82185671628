/**
 * Types for tagrelay's browser tag (`window.track`), for TypeScript sites:
 * `/// <reference types="tagrelay" />` or `import type {} from 'tagrelay'`.
 */

export type ConsentValue = 'granted' | 'denied';

/** Google Consent Mode v2's four keys. */
export interface ConsentSettings {
  ad_storage?: ConsentValue;
  analytics_storage?: ConsentValue;
  ad_user_data?: ConsentValue;
  ad_personalization?: ConsentValue;
}

/** GA4's item shape. */
export interface Item {
  item_id?: string;
  item_name?: string;
  item_category?: string;
  item_brand?: string;
  item_variant?: string;
  price?: number;
  quantity?: number;
  coupon?: string;
  [key: string]: unknown;
}

/** Customer data the collector normalises and hashes for destinations that match on it. */
export interface UserData {
  email?: string;
  phone_number?: string;
  address?: {
    first_name?: string;
    last_name?: string;
    street?: string;
    city?: string;
    region?: string;
    postal_code?: string;
    country?: string;
  };
}

/** Properties of any event; GA4's recommended parameters are typed, anything else is allowed. */
export interface EventProperties {
  transaction_id?: string;
  value?: number;
  currency?: string;
  coupon?: string;
  items?: Item[];
  /** The site's own non-identifying customer id. */
  user_id?: string;
  user_data?: UserData;
  [key: string]: unknown;
}

/** GA4 recommended event names; any other name (letters, digits, `_.:-`, up to 64) is a custom event. */
export type RecommendedEventName =
  | 'purchase'
  | 'refund'
  | 'generate_lead'
  | 'sign_up'
  | 'login'
  | 'add_to_cart'
  | 'remove_from_cart'
  | 'begin_checkout'
  | 'add_payment_info'
  | 'add_shipping_info'
  | 'page_view'
  | 'search'
  | 'view_item'
  | 'view_item_list'
  | 'select_item'
  | 'view_cart'
  | 'add_to_wishlist';

export interface Track {
  /** Sets consent (Consent Mode v2 keys); the latest signal wins. */
  (command: 'consent', settings: ConsentSettings): void;
  /**
   * Tracks an event. Never throws, never blocks the page. `options.id`: the site's own event id (8–64 of
   * letters, digits and `_.:-`), to share with a vendor's browser pixel for deduplication; else one of the tag's
   * own (the event's time in ms, base 36, then 128 random bits).
   */
  (name: RecommendedEventName | (string & {}), properties?: EventProperties, options?: { id?: string }): void;
  /** The snippet's queue of calls made before the tag loaded. */
  q?: IArguments[];
}

declare global {
  interface Window {
    track: Track;
  }
  // eslint-disable-next-line no-var
  var track: Track;
}
