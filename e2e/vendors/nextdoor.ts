import { VendorServer, type ReceivedRequest, type VendorAnswer } from './server.js';

const EVENT_NAMES = new Set([
  'purchase', 'lead', 'sign_up', 'add_to_cart', 'initiate_checkout', 'page_view', 'search', 'view_content',
  'add_to_wishlist', 'subscribe', ...Array.from({ length: 10 }, (_, i) => `custom_conversion_${i + 1}`),
]);
const ACTION_SOURCES = new Set(['email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'other']);
const DELIVERY_CATEGORIES = new Set(['in_store', 'curbside', 'home_delivery']);
const HASHED = ['email', 'phone_number', 'first_name', 'last_name', 'date_of_birth', 'gender', 'street_address', 'city', 'state', 'zip_code', 'country', 'external_id'];
const PLAIN = ['click_id', 'client_ip_address', 'client_user_agent'];
const SHA256 = /^[0-9a-f]{64}$/;

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

/**
 * Nextdoor's documented rules for POST /v2/api/conversions/track
 * (https://developer.nextdoor.com/reference/conversions-track): Bearer token, JSON, required fields
 * and enums, no deprecated fields, integer epoch seconds, SHA-256 hex customer data, `order_value`
 * as currency + amount.
 * Nextdoor documents no error body; the stand-in answers `{message, errors: [{field, message}]}`.
 */
export function nextdoorRules(token: string, dataSourceId: string) {
  return (req: ReceivedRequest): VendorAnswer => {
    if (req.method === 'GET' && req.path === '/v2/api/me') {
      // Nextdoor's token check: who the token belongs to.
      return req.headers.authorization === `Bearer ${token}` ? { status: 200, body: { id: 'advertiser-1' } } : { status: 401, body: { message: 'Unauthorized' } };
    }
    if (req.method !== 'POST' || req.path !== '/v2/api/conversions/track') {
      return { status: 404, body: { message: 'Not Found' }, violation: `${req.method} ${req.path}` };
    }
    if (req.headers.authorization !== `Bearer ${token}`) return { status: 401, body: { message: 'Unauthorized' } };
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return { status: 400, body: { message: 'Content-Type must be application/json' }, violation: `content-type ${req.headers['content-type']}` };
    }
    let b: Record<string, any>;
    try {
      b = JSON.parse(req.body);
    } catch {
      return { status: 400, body: { message: 'Invalid JSON' }, violation: 'body is not JSON' };
    }
    const errors: { field: string; message: string }[] = [];
    const bad = (field: string, message: string) => errors.push({ field, message });
    for (const f of ['event_time', 'client_id', 'pixel_id']) if (f in b) bad(f, 'deprecated field');
    if (b.customer && typeof b.customer === 'object' && ('data_source_id' in b.customer || 'pixel_id' in b.customer)) bad('customer.data_source_id', 'data_source_id belongs at the top level');
    if (!EVENT_NAMES.has(b.event_name)) bad('event_name', 'invalid event_name');
    if (typeof b.event_id !== 'string' || !b.event_id) bad('event_id', 'required');
    if (!Number.isInteger(b.event_time_epoch) || b.event_time_epoch < 946684800 || b.event_time_epoch > 4102444800) bad('event_time_epoch', 'must be integer Unix seconds');
    if (!ACTION_SOURCES.has(b.action_source)) bad('action_source', 'invalid action_source');
    if (b.action_source === 'website' && !isHttpUrl(b.action_source_url)) bad('action_source_url', 'required http(s) URL for website');
    if (b.data_source_id !== dataSourceId) bad('data_source_id', 'unknown data_source_id');
    if (!b.customer || typeof b.customer !== 'object' || Array.isArray(b.customer)) bad('customer', 'required object');
    else {
      for (const [k, v] of Object.entries(b.customer)) {
        if (HASHED.includes(k)) {
          if (typeof v !== 'string' || !SHA256.test(v)) bad(`customer.${k}`, 'must be SHA-256 hex');
        } else if (PLAIN.includes(k)) {
          if (typeof v !== 'string' || !v) bad(`customer.${k}`, 'must be a string');
          else if (SHA256.test(v)) bad(`customer.${k}`, 'must be plain text, not hashed');
        } else bad(`customer.${k}`, 'unknown field');
      }
    }
    const c = b.custom ?? {};
    if (b.event_name === 'purchase' && c.order_value === undefined) bad('custom.order_value', 'required for purchase');
    if (c.order_value !== undefined && (typeof c.order_value !== 'string' || !/^[A-Z]{3}\d+(\.\d{1,2})?$/.test(c.order_value))) bad('custom.order_value', 'must be currency code + amount, e.g. USD123.45');
    if (c.delivery_category !== undefined && !DELIVERY_CATEGORIES.has(c.delivery_category)) bad('custom.delivery_category', 'invalid delivery_category');
    if (c.product_context !== undefined) {
      if (!Array.isArray(c.product_context)) bad('custom.product_context', 'must be an array');
      else c.product_context.forEach((p: any, i: number) => {
        if (typeof p?.id !== 'string' || !p.id) bad(`custom.product_context[${i}].id`, 'required');
        if (p?.quantity !== undefined && !Number.isInteger(p.quantity)) bad(`custom.product_context[${i}].quantity`, 'must be an integer');
        if (p?.item_price !== undefined && typeof p.item_price !== 'number') bad(`custom.product_context[${i}].item_price`, 'must be a number');
      });
    }
    if (b.restricted_data_usage !== undefined && b.restricted_data_usage !== 0 && b.restricted_data_usage !== 1) bad('restricted_data_usage', 'must be 0 or 1');
    if (b.restricted_data_usage_country !== undefined && b.restricted_data_usage_country !== 1) bad('restricted_data_usage_country', 'must be 1 (USA)');
    if (b.restricted_data_usage_state !== undefined && !(Number.isInteger(b.restricted_data_usage_state) && b.restricted_data_usage_state >= 1000 && b.restricted_data_usage_state <= 1018)) bad('restricted_data_usage_state', 'must be 1000–1018');
    if (b.test_event !== undefined && typeof b.test_event !== 'string') bad('test_event', 'must be a string');
    if (errors.length) return { status: 400, body: { message: 'Invalid request', errors }, violation: JSON.stringify(errors) };
    return { status: 200, body: { message: 'OK' } };
  };
}

export function startNextdoor(token = 'nextdoor-test-token', dataSourceId = '5b0b9e9a-156a-11ee-be56-0242ac120002'): Promise<VendorServer> {
  return new VendorServer(nextdoorRules(token, dataSourceId)).start();
}
