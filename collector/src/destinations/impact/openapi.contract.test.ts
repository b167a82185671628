import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../event.js';
import type { HttpRequest } from '../types.js';
import { impactConversionSchema, itemProblems } from './conversionSchema.js';
import { impact } from './index.js';

/**
 * Contract test: every kind of request the impact destination builds is checked against tagrelay's
 * own schema of the impact.com Conversions form (conversionSchema.ts, written from
 * https://integrations.impact.com/impact-brand/reference/submit-a-conversion and the pages it cites).
 * The request must be `POST /Advertisers/{AccountSID}/Conversions`, form-urlencoded, with HTTP Basic
 * auth; its body is decoded into an object and validated: field names (no unknown ones), types,
 * lengths, 2-decimal amounts, the event identifier and attribution key rules, and the item numbering.
 */

// strictRequired off: the `required` inside oneOf/anyOf name properties declared at the top level.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
// ajv-formats is CommonJS: its default export is the plugin, or holds it as `default`.
const addFormats = ((m: any) => m.default ?? m)(ajvFormats) as (a: typeof ajv) => void;
addFormats(ajv);
const validate = ajv.compile(impactConversionSchema);

/** Problems with one decoded form against the schema; empty when it conforms. */
function formProblems(form: Record<string, string>): string[] {
  const out = itemProblems(form);
  if (!validate(form)) out.push(...validate.errors!.map((e) => `${e.instancePath || '(form)'} ${e.message} ${JSON.stringify(e.params)}`));
  return out;
}

/** Problems with one built request; empty when it conforms. */
function problems(req: HttpRequest): string[] {
  const out: string[] = [];
  const url = new URL(req.url);
  // https://integrations.impact.com/impact-brand/reference/submit-a-conversion: POST …/Advertisers/<AccountSID>/Conversions,
  // Content-Type application/x-www-form-urlencoded, HTTP Basic AccountSID:AuthToken.
  if (req.method !== 'POST' || !/^\/Advertisers\/[^/]+\/Conversions$/.test(url.pathname)) out.push(`operation ${req.method} ${url.pathname}`);
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') out.push(`content-type ${req.headers['content-type']}`);
  if (!/^Basic [A-Za-z0-9+/]+=*$/.test(req.headers.authorization ?? '')) out.push('no HTTP Basic auth');
  const form: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(req.body)) {
    if (k in form) out.push(`${k} sent twice`);
    form[k] = v;
  }
  return [...out, ...formProblems(form)];
}

const settings = (events: Record<string, unknown>) =>
  impact.settings.parse({ accountSid: 'IRabc123', authToken: 'secret-token', campaignId: '1000', baseUrl: 'https://api.impact.com', events, consent: [] });

const base: StoredEvent = {
  id: 'evt-0001-abcdef',
  name: 'purchase',
  time: 1795344440021,
  clickIds: { clickid: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0' },
  context: { receivedAt: 1795344440500 },
};
const allFields: StoredEvent = {
  ...base,
  anonymousId: 'anon-1234',
  clickIds: { irclickid: 'x'.repeat(64) },
  consent: { ad_storage: 'granted', ad_user_data: 'granted' },
  properties: {
    transaction_id: 'T'.repeat(64),
    value: 52.6,
    tax: 3.4,
    shipping: 5,
    currency: 'usd',
    coupon: 'SPRING',
    discount: 2,
    customer_type: 'new',
    items: [
      { item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2, discount: 1.5 },
      { item_id: 'SKU2', item_name: 'Tennis Balls', price: 3.14, quantity: 3 },
    ],
    user_id: 'cust-77',
    user_data: { email: 'A@B.example', phone_number: '+15551234567', address: { first_name: 'Ann', country: 'US' } },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140', receivedAt: 1795344441000 },
};

const cases: [string, StoredEvent, Record<string, unknown>][] = [
  ['required fields only (EventTypeId, ClickId, event id as OrderId)', base, { eventTypeId: '12345' }],
  ['all fields (items, discounts, tax, shipping, customer status, hashed email, consent, ip, user agent)', allFields, { eventTypeId: '12345' }],
  ['EventTypeCode variant', allFields, { eventTypeCode: 'ACME_SALE' }],
  ['order level amount (no items)', { ...base, properties: { value: 10, currency: 'EUR', transaction_id: 'O-2' } }, { eventTypeId: '1' }],
  ['items without a category (the default one) or name', { ...base, properties: { currency: 'GBP', items: [{ item_id: 'A', price: 1 }] } }, { eventTypeId: '1' }],
  ['an over-long click id left out', { ...base, anonymousId: 'anon-1', clickIds: { clickid: 'c'.repeat(65) }, properties: { new_customer: false } }, { eventTypeId: '1' }],
  ['CustomProfileId as the only attribution key', { ...base, clickIds: {}, anonymousId: 'a'.repeat(70) }, { eventTypeId: '1' }],
  ['CustomerId as the only attribution key', { ...base, clickIds: {}, properties: { user_id: 'cust-1' } }, { eventTypeId: '1' }],
  ['OrderPromoCode as the only attribution key', { ...base, clickIds: {}, properties: { coupon: 'PARTNER10' } }, { eventTypeId: '1' }],
  ['im_ref click id, TrackingConsent false', { ...base, clickIds: { im_ref: 'imref-1' }, consent: { ad_storage: 'denied' } }, { eventTypeId: '1' }],
  ['IPv6 address', { ...base, context: { ip: '2001:db8::7', receivedAt: 1795344440500 } }, { eventTypeId: '1' }],
];

describe('impact requests conform to the in-repo Conversions schema (conversionSchema.ts)', () => {
  it.each(cases)('%s', async (_, event, eventType) => {
    const d = impact.create(settings({ [event.name]: eventType }));
    const m = await d.map(event);
    if (!('payload' in m)) throw new Error(`skipped: ${'skip' in m ? m.skip : m.reason}`);
    expect(problems(d.request([m.payload]))).toEqual([]);
  });

  it('the check catches a mapping that sends an unknown field or breaks a rule', async () => {
    const d = impact.create(settings({ purchase: { eventTypeId: '12345' } }));
    const m = (await d.map(allFields)) as { payload: Record<string, string> };
    const broken = (change: (p: Record<string, string>) => void) => {
      const p = { ...m.payload };
      change(p);
      return problems(d.request([p as never]));
    };
    expect(broken(() => undefined)).toEqual([]);
    expect(broken((p) => { p.Unknown = 'x'; })).not.toEqual([]);
    expect(broken((p) => { p.Margin = '5.00'; })).not.toEqual([]); // documented by impact, but not a field tagrelay sends
    expect(broken((p) => { p.OrderDiscount = '-5.00'; })).not.toEqual([]);
    expect(broken((p) => { p.ItemDiscount1 = '1.5'; })).not.toEqual([]);
    expect(broken((p) => { p.CustomerStatus = 'VIP'; })).not.toEqual([]); // not mapped at impact by default
    expect(broken((p) => delete p.ItemCategory1)).not.toEqual([]); // required with item-level details
    expect(broken((p) => { p.ItemSubTotal1 = '42.50'; })).not.toEqual([]);
    expect(broken((p) => delete p.OrderId)).not.toEqual([]);
    expect(broken((p) => delete p.CampaignId)).not.toEqual([]);
    expect(broken((p) => delete p.EventDate)).not.toEqual([]);
    expect(broken((p) => delete p.EventTypeId)).not.toEqual([]);
    expect(broken((p) => { p.EventTypeCode = 'ACME_SALE'; })).not.toEqual([]); // both event identifiers
    expect(broken((p) => { delete p.ClickId; delete p.CustomProfileId; delete p.CustomerId; delete p.OrderPromoCode; })).not.toEqual([]);
    expect(broken((p) => { p.OrderId = 'O'.repeat(65); })).not.toEqual([]);
    expect(broken((p) => { p.ClickId = 'c'.repeat(65); })).not.toEqual([]);
    expect(broken((p) => { p.CustomProfileId = 'p'.repeat(71); })).not.toEqual([]);
    expect(broken((p) => { p.CustomerId = 'ann@example.com'; })).not.toEqual([]);
    expect(broken((p) => { p.CustomerEmail = 'a@b.example'; })).not.toEqual([]);
    expect(broken((p) => { p.ItemPrice1 = 'fifty'; })).not.toEqual([]);
    expect(broken((p) => { p.ItemPrice1 = '21.2'; })).not.toEqual([]);
    expect(broken((p) => { p.OrderTax = '-3.40'; })).not.toEqual([]);
    expect(broken((p) => { p.ItemQuantity1 = '1.5'; })).not.toEqual([]);
    expect(broken((p) => { p.EventDate = '22/11/2026'; })).not.toEqual([]);
    expect(broken((p) => { p.CampaignId = 'abc'; })).not.toEqual([]);
    expect(broken((p) => { p.CurrencyCode = 'usd'; })).not.toEqual([]);
    expect(broken((p) => delete p.CurrencyCode)).not.toEqual([]);
    expect(broken((p) => { p.TrackingConsent = 'yes'; })).not.toEqual([]);
    expect(broken((p) => { p.OrderSubTotalPostDiscount = '52.60'; })).not.toEqual([]); // with items
    expect(broken((p) => delete p.ItemSku2)).not.toEqual([]);
    expect(broken((p) => { p.ItemSku4 = 'SKU4'; p.ItemQuantity4 = '1'; p.ItemPrice4 = '1.00'; })).not.toEqual([]); // gap: no item 3
  });

  it('the schema accepts a well-formed form and rejects a bad one', () => {
    const good = {
      CampaignId: '1000',
      EventTypeId: '12345',
      EventDate: '2023-12-01T23:55:24-08:00',
      OrderId: '9217374917471',
      ClickId: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0',
      CurrencyCode: 'USD',
      ItemSku1: '12345',
      ItemName1: 'Anvil',
      ItemCategory1: 'Blacksmithing',
      ItemQuantity1: '1',
      ItemPrice1: '10.00',
      CustomerEmail: '7076656fee27c02fd8a1cbd17828c9cf28f2c250',
    };
    expect(formProblems(good)).toEqual([]);
    const bad = {
      CampaignId: '1000',
      EventDate: 'yesterday',
      OrderId: '9217374917471',
      ItemSku1: '12345',
      ItemPrice1: '10',
      Margin: 'fifty',
    };
    const found = formProblems(bad).join('\n');
    expect(found).toMatch(/ItemQuantity1 missing/); // item without a quantity
    expect(found).toMatch(/additionalProperty":"Margin"/); // unknown field
    expect(found).toMatch(/\/EventDate must match format "date-time"/);
    expect(found).toMatch(/\/ItemPrice1 must match pattern/); // not 2 decimals
    expect(found).toMatch(/"missingProperty":"EventTypeId"/); // no event identifier
    expect(found).toMatch(/"missingProperty":"ClickId"/); // no attribution key
    expect(found).toMatch(/"missingProperty":"CurrencyCode"/); // an amount without a currency
  });
});
