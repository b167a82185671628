import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { customerStatus, impactConversion, trackingConsent } from './mapping.js';

const base: StoredEvent = {
  id: 'evt-0001-abcdef',
  name: 'generate_lead',
  time: 1795344440021,
  clickIds: { clickid: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0' },
  context: { receivedAt: 1795344440500 },
};
const options = { campaignId: '1000', eventType: { eventTypeId: '12345' } };

const impactPurchase: StoredEvent = {
  id: 'evt-0002-abcdef',
  name: 'purchase',
  time: 1795344440999,
  anonymousId: 'anon-1234',
  url: 'https://shop.example/checkout',
  clickIds: { irclickid: 'IR-click', im_ref: 'im-ref' },
  consent: { ad_storage: 'granted', ad_user_data: 'granted' },
  properties: {
    transaction_id: 'T-1001',
    value: 42.5,
    tax: 3.4,
    shipping: 5,
    currency: 'usd',
    coupon: 'SPRING',
    items: [
      { item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2 },
      { item_id: 'SKU2', price: 0.1 },
    ],
    user_id: 'cust-77',
    user_data: { email: ' Test@Example.com ', phone_number: '+15551234567' },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 Test', receivedAt: 1795344441000 },
};

describe('impactConversion', () => {
  it('required fields only (event id as OrderId)', () => {
    expect(impactConversion(base, options)).toEqual({
      CampaignId: '1000',
      EventTypeId: '12345',
      EventDate: '2026-11-22T10:47:20Z',
      OrderId: 'evt-0001-abcdef',
      ClickId: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0',
    });
  });

  it('all fields: items numbered from 1, 2-decimal amounts, SHA-1 email (vector from sha1sum)', () => {
    const c = impactConversion(impactPurchase, { campaignId: '1000', eventType: { eventTypeCode: 'ACME_SALE' } });
    expect(c).toEqual({
      CampaignId: '1000',
      EventTypeCode: 'ACME_SALE',
      EventDate: '2026-11-22T10:47:20Z',
      OrderId: 'T-1001',
      ClickId: 'IR-click',
      CustomProfileId: 'anon-1234',
      CustomerId: 'cust-77',
      CustomerEmail: '567159d622ffbb50b11b0efd307be358624a26ee', // sha1("test@example.com")
      OrderPromoCode: 'SPRING',
      CurrencyCode: 'USD',
      ItemSku1: 'SKU1',
      ItemName1: 'Anvil',
      ItemCategory1: 'Tools',
      ItemQuantity1: '2',
      ItemPrice1: '21.25',
      ItemSku2: 'SKU2',
      ItemCategory2: 'default', // impact requires a category with item-level details
      ItemQuantity2: '1',
      ItemPrice2: '0.10',
      OrderTax: '3.40',
      OrderShipping: '5.00',
      TrackingConsent: 'true',
      IpAddress: '203.0.113.7',
      UserAgent: 'Mozilla/5.0 Test',
    });
    expect(JSON.stringify(c)).not.toContain('example.com');
    expect(JSON.stringify(c)).not.toContain('5551234567');
  });

  it('order level when items lack ids or prices', () => {
    const c = impactConversion({ ...impactPurchase, properties: { value: 10, currency: 'EUR', items: [{ item_name: 'x' }], transaction_id: 'T2' } }, options);
    expect(c).toMatchObject({ CurrencyCode: 'EUR', OrderSubTotalPostDiscount: '10.00' });
    expect(Object.keys(c).some((k) => k.startsWith('Item'))).toBe(false);
  });

  it('click id preference clickid > irclickid > im_ref', () => {
    expect(impactConversion({ ...base, clickIds: { im_ref: 'c', irclickid: 'b', clickid: 'a' } }, options).ClickId).toBe('a');
    expect(impactConversion({ ...base, clickIds: { im_ref: 'c' } }, options).ClickId).toBe('c');
  });

  it('an over-long click id is left out, not the event; the next click id is used', () => {
    const long = 'x'.repeat(65);
    const c = impactConversion({ ...base, anonymousId: 'anon-1', clickIds: { clickid: long } }, options);
    expect(c).not.toHaveProperty('ClickId');
    expect(c.CustomProfileId).toBe('anon-1');
    expect(impactConversion({ ...base, clickIds: { clickid: long, im_ref: 'im-1' } }, options).ClickId).toBe('im-1');
    expect(impactConversion({ ...base, clickIds: { clickid: 'x'.repeat(64) } }, options).ClickId).toHaveLength(64);
  });

  it('ItemCategory: the item\'s, else defaultItemCategory, else "default"', () => {
    const items = [{ item_id: 'A', price: 1, item_category: 'Tools' }, { item_id: 'B', price: 2 }, { item_id: 'C', price: 3, item_category: 'x'.repeat(256) }];
    const event = { ...base, properties: { currency: 'USD', items } };
    expect(impactConversion(event, options)).toMatchObject({ ItemCategory1: 'Tools', ItemCategory2: 'default', ItemCategory3: 'default' });
    expect(impactConversion(event, { ...options, defaultItemCategory: 'General' })).toMatchObject({ ItemCategory1: 'Tools', ItemCategory2: 'General' });
  });

  it("discounts: GA4's unit discount as ItemDiscount added back to ItemPrice, the order's as OrderDiscount", () => {
    const c = impactConversion(
      {
        ...base,
        properties: {
          currency: 'USD',
          discount: 5,
          items: [{ item_id: 'A', price: 8.9, discount: 1.1, quantity: 2 }, { item_id: 'B', price: 3, discount: 0 }, { item_id: 'C', price: 4, discount: -2 }],
        },
      },
      options,
    );
    expect(c).toMatchObject({ ItemPrice1: '10.00', ItemDiscount1: '1.10', ItemPrice2: '3.00', ItemPrice3: '4.00', OrderDiscount: '5.00', CurrencyCode: 'USD' });
    expect(c).not.toHaveProperty('ItemDiscount2');
    expect(c).not.toHaveProperty('ItemDiscount3');
  });

  it('no OrderDiscount at order level: value is already the subtotal after discounts', () => {
    const c = impactConversion({ ...base, properties: { value: 20, discount: 5, currency: 'USD' } }, options);
    expect(c).toMatchObject({ OrderSubTotalPostDiscount: '20.00' });
    expect(c).not.toHaveProperty('OrderDiscount');
  });

  it('CustomerStatus when the event says new or returning', () => {
    expect(customerStatus({ customer_type: 'new' })).toBe('NEW');
    expect(customerStatus({ customer_type: ' Returning ' })).toBe('EXISTING');
    expect(customerStatus({ new_customer: true })).toBe('NEW');
    expect(customerStatus({ new_customer: false })).toBe('EXISTING');
    expect(customerStatus({ customer_type: 'vip', new_customer: 'yes' })).toBeUndefined();
    expect(customerStatus({})).toBeUndefined();
    expect(impactConversion({ ...base, properties: { customer_type: 'returning' } }, options).CustomerStatus).toBe('EXISTING');
    expect(impactConversion(base, options)).not.toHaveProperty('CustomerStatus');
  });

  it('never sends an email as CustomerId', () => {
    const c = impactConversion({ ...base, properties: { user_id: 'a@b.example' } }, options);
    expect(c).not.toHaveProperty('CustomerId');
  });

  it.each([
    ['a too long transaction_id', { ...base, properties: { transaction_id: 'x'.repeat(65) } }, /OrderId/],
    ['a too long click id as the only attribution key', { ...base, clickIds: { clickid: 'x'.repeat(65) } }, /clickid left out: longer than 64/],
    ['no attribution key', { ...base, clickIds: {} }, /attribution key/],
    ['money without currency', { ...base, properties: { value: 4 } }, /CurrencyCode/],
    ['a fractional quantity', { ...base, properties: { currency: 'USD', items: [{ item_id: 'A', price: 1, quantity: 1.5 }] } }, /ItemQuantity/],
  ])('rejects %s', (_, event, reason) => {
    expect(() => impactConversion(event as StoredEvent, options)).toThrow(InvalidEventError);
    expect(() => impactConversion(event as StoredEvent, options)).toThrow(reason);
  });

  it('TrackingConsent from the event consent', () => {
    expect(trackingConsent(undefined)).toBeUndefined();
    expect(trackingConsent({ ad_storage: 'granted' })).toBe('true');
    expect(trackingConsent({ ad_storage: 'granted', gpc: true })).toBe('false');
    expect(trackingConsent({ ad_user_data: 'denied' })).toBe('false');
    expect(trackingConsent({ analytics_storage: 'granted' })).toBeUndefined();
  });
});
