import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { sha256Hex } from '../pii.js';
import { nextdoorConversion } from './mapping.js';

const base: StoredEvent = {
  id: 'evt-0001-abcdef',
  name: 'generate_lead',
  time: 1795344440021,
  url: 'https://shop.example/contact',
  context: { receivedAt: 1795344440500 },
};
const options = { eventName: 'lead' as const, dataSourceId: '5b0b9e9a-156a-11ee-be56-0242ac120002' };

const purchase: StoredEvent = {
  id: 'evt-0002-abcdef',
  name: 'purchase',
  time: 1795344440999,
  anonymousId: 'anon-1',
  url: 'https://shop.example/checkout?step=done',
  clickIds: { ndclid: 'nd-click-1', click_id: 'generic-click' },
  consent: { ad_storage: 'granted', ad_user_data: 'granted' },
  properties: {
    transaction_id: 'T-1001',
    value: 42.5,
    currency: 'usd',
    delivery_category: 'home_delivery',
    items: [
      { item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2 },
      { item_name: 'no id, left out' },
    ],
    user_id: 'Cust-77',
    user_data: {
      email: ' Test@Example.com ',
      phone_number: '(555) 123-4567',
      date_of_birth: '1990-01-02',
      address: { first_name: 'John', last_name: 'Doe', street: '1 Main St', city: 'San Francisco', region: 'California', postal_code: '94105-1234', country: 'US' },
    },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 Test', receivedAt: 1795344441000 },
};

describe('nextdoorConversion', () => {
  it('required fields only', () => {
    expect(nextdoorConversion(base, options)).toEqual({
      event_name: 'lead',
      event_id: 'evt-0001-abcdef',
      event_time_epoch: 1795344440,
      action_source: 'website',
      action_source_url: 'https://shop.example/contact',
      data_source_id: '5b0b9e9a-156a-11ee-be56-0242ac120002',
      customer: {},
    });
  });

  it('all fields, hashed with SHA-256 over normalised values (vectors from sha256sum)', () => {
    const c = nextdoorConversion(purchase, { ...options, eventName: 'purchase', testEvent: 'TEST123', partnerId: 'p-1' });
    expect(c).toEqual({
      event_name: 'purchase',
      event_id: 'evt-0002-abcdef',
      event_time_epoch: 1795344440,
      action_source: 'website',
      action_source_url: 'https://shop.example/checkout?step=done',
      data_source_id: '5b0b9e9a-156a-11ee-be56-0242ac120002',
      customer: {
        email: '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b', // test@example.com
        phone_number: '8a59780bb8cd2ba022bfa5ba2ea3b6e07af17a7d8b30c1f9b3390e36f69019e4', // +15551234567
        first_name: '96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a', // john
        last_name: expect.stringMatching(/^[0-9a-f]{64}$/),
        date_of_birth: '19bb8a164e99b8549f5f5c9e810115de44d02402f68aefe2df61b4fddacfa085', // 19900102
        street_address: expect.stringMatching(/^[0-9a-f]{64}$/),
        city: expect.stringMatching(/^[0-9a-f]{64}$/),
        state: '6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126', // ca
        zip_code: 'e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e', // 94105
        country: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621', // us
        external_id: expect.stringMatching(/^[0-9a-f]{64}$/),
        click_id: 'nd-click-1',
        client_ip_address: '203.0.113.7',
        client_user_agent: 'Mozilla/5.0 Test',
      },
      custom: {
        order_value: 'USD42.50',
        order_id: 'T-1001',
        delivery_category: 'home_delivery',
        product_context: [{ id: 'SKU1', content_name: 'Anvil', quantity: 2, item_price: 21.25 }],
      },
      test_event: 'TEST123',
      partner_id: 'p-1',
    });
    for (const deprecated of ['event_time', 'client_id', 'pixel_id']) {
      expect(c).not.toHaveProperty(deprecated);
      expect(c.customer).not.toHaveProperty(deprecated);
    }
    expect(JSON.stringify(c)).not.toContain('example.com');
  });

  it("click_id is Nextdoor's ndclid only, never another network's generic click_id", () => {
    expect(nextdoorConversion({ ...base, clickIds: { click_id: 'generic', clickid: 'impact' } }, options).customer).not.toHaveProperty('click_id');
    expect(nextdoorConversion({ ...base, clickIds: { click_id: 'generic', ndclid: 'nd-1' } }, options).customer.click_id).toBe('nd-1');
  });

  it('another event with a value but no currency is sent without order_value, not refused', () => {
    expect(nextdoorConversion({ ...base, properties: { value: 10 } }, options)).not.toHaveProperty('custom');
    expect(nextdoorConversion({ ...base, properties: { value: -1, currency: 'USD' } }, options)).not.toHaveProperty('custom');
    expect(nextdoorConversion({ ...base, properties: { value: 10, currency: 'eur' } }, options).custom).toEqual({ order_value: 'EUR10.00' });
    expect(nextdoorConversion({ ...base, properties: { value: 10, transaction_id: 'L-1' } }, options).custom).toEqual({ order_id: 'L-1' });
  });

  it('gender: o (other) is kept, hashed like m and f', () => {
    const gender = (g: string) => nextdoorConversion({ ...base, properties: { user_data: { gender: g } } }, options).customer.gender;
    expect(gender('O')).toBe(sha256Hex('o'));
    expect(gender('other')).toBe(sha256Hex('o'));
    expect(gender('Female')).toBe(sha256Hex('f'));
    expect(gender('x')).toBeUndefined();
  });

  it('restricted data usage: flag, country and state from the address', () => {
    const c = nextdoorConversion(purchase, { ...options, eventName: 'purchase', restricted: true });
    expect(c.restricted_data_usage).toBe(1);
    expect(c.restricted_data_usage_country).toBe(1);
    expect(c.restricted_data_usage_state).toBe(1000);
    const unknown = nextdoorConversion(base, { ...options, restricted: true });
    expect(unknown.restricted_data_usage).toBe(1);
    expect(unknown).not.toHaveProperty('restricted_data_usage_country');
    expect(unknown).not.toHaveProperty('restricted_data_usage_state');
  });

  it.each([
    ['no page url', { ...base, url: undefined }, /action_source_url/],
    ['a non-http url', { ...base, url: 'ftp://x.example/' }, /action_source_url/],
    ['purchase without value', { ...purchase, properties: { currency: 'USD' } }, /order_value.*value/],
    ['purchase without currency', { ...purchase, properties: { value: 3 } }, /currency/],
  ])('rejects %s', (_, event, reason) => {
    const eventName = event.name === 'purchase' ? ('purchase' as const) : ('lead' as const);
    expect(() => nextdoorConversion(event as StoredEvent, { ...options, eventName })).toThrow(InvalidEventError);
    expect(() => nextdoorConversion(event as StoredEvent, { ...options, eventName })).toThrow(reason);
  });

  it('leaves out an unknown delivery_category instead of sending it', () => {
    const c = nextdoorConversion({ ...purchase, properties: { ...purchase.properties, delivery_category: 'drone' } }, { ...options, eventName: 'purchase' });
    expect(c.custom).not.toHaveProperty('delivery_category');
  });
});
