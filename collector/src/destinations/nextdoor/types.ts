/**
 * Nextdoor Conversions API `POST /v2/api/conversions/track` body
 * (https://developer.nextdoor.com/reference/conversions-track).
 * The deprecated `event_time`, `client_id` and `pixel_id` are deliberately absent.
 */

export const nextdoorEventNames = [
  'purchase', 'lead', 'sign_up', 'add_to_cart', 'initiate_checkout', 'page_view', 'search', 'view_content',
  'add_to_wishlist', 'subscribe',
  'custom_conversion_1', 'custom_conversion_2', 'custom_conversion_3', 'custom_conversion_4', 'custom_conversion_5',
  'custom_conversion_6', 'custom_conversion_7', 'custom_conversion_8', 'custom_conversion_9', 'custom_conversion_10',
] as const;
export type NextdoorEventName = (typeof nextdoorEventNames)[number];

export const nextdoorActionSources = [
  'email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'other',
] as const;

export const nextdoorDeliveryCategories = ['in_store', 'curbside', 'home_delivery'] as const;

/** Customer fields: personal ones are normalised then SHA-256 hex; the last three are plain text. */
export interface NextdoorCustomer {
  email?: string;
  phone_number?: string;
  first_name?: string;
  last_name?: string;
  date_of_birth?: string;
  gender?: string;
  street_address?: string;
  city?: string;
  state?: string;
  zip_code?: string;
  country?: string;
  external_id?: string;
  click_id?: string;
  client_ip_address?: string;
  client_user_agent?: string;
}

export interface NextdoorProduct {
  id: string;
  content_name?: string;
  quantity?: number;
  item_price?: number;
}

export interface NextdoorCustom {
  /** Currency code + amount, e.g. `USD42.50`; required for purchase. */
  order_value?: string;
  order_id?: string;
  delivery_category?: (typeof nextdoorDeliveryCategories)[number];
  product_context?: NextdoorProduct[];
}

export interface NextdoorConversion {
  event_name: NextdoorEventName;
  event_id: string;
  /** Unix time in integer seconds. */
  event_time_epoch: number;
  action_source: (typeof nextdoorActionSources)[number];
  action_source_url?: string;
  data_source_id: string;
  customer: NextdoorCustomer;
  custom?: NextdoorCustom;
  /** 1 = use for reporting only (a user who opted out of sale/sharing). */
  restricted_data_usage?: 0 | 1;
  /** 1 = USA. */
  restricted_data_usage_country?: number;
  /** 1000–1018: the US state whose privacy law applies. */
  restricted_data_usage_state?: number;
  test_event?: string;
  partner_id?: string;
}
