import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../event.js';
import type { HttpRequest } from '../types.js';
import { impact } from './index.js';

/**
 * Contract test: every kind of request the impact destination builds is checked against impact's
 * published OpenAPI description (`<repo>/../shared/reference/impact-conversions-openapi.yml`; in CI
 * the repo is a fresh clone with `shared/` beside it). The form body is decoded into an object and
 * validated against the request schema, with the spec's prose rules (one event identifier, one
 * attribution key) and numbered fields (`ItemSku[i]` → `ItemSku1`, …) made checkable.
 */

const repoRoot = resolve(import.meta.dirname, '../../../..');
const SPEC_NAME = 'impact-conversions-openapi.yml';

function findSpec(): string {
  const candidates = [
    process.env.TAGRELAY_REFERENCE_DIR && resolve(process.env.TAGRELAY_REFERENCE_DIR, SPEC_NAME),
    resolve(repoRoot, '../shared/reference', SPEC_NAME),
    resolve(repoRoot, 'shared/reference', SPEC_NAME),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`impact OpenAPI file not found; looked in:\n  ${candidates.join('\n  ')}`);
  return found;
}

const spec = parse(readFileSync(findSpec(), 'utf8')) as any;
const PATH = '/Advertisers/{AccountSID}/Conversions';
const operation = spec.paths[PATH].post;
const FORM = 'application/x-www-form-urlencoded';
const ref: string = operation.requestBody.content[FORM].schema.$ref;
const payloadSchema = spec.components.schemas[ref.replace('#/components/schemas/', '')];

const alternation = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i).join('|');

/** Turns the spec's templated property names into patternProperties so numbered fields are checked too. */
function checkableSchema(schema: any): any {
  const properties: Record<string, unknown> = {};
  const patternProperties: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries<any>(schema.properties)) {
    let m: RegExpExecArray | null;
    if (/^\w+$/.test(name)) properties[name] = prop;
    else if ((m = /^(\w+)\[i\]$/.exec(name))) patternProperties[`^${m[1]}[1-9][0-9]*$`] = prop;
    else if ((m = /^(\w+)\[i\]_(\d+) to (\w+)\[i\]_(\d+)$/.exec(name)) && m[1] === m[3]) {
      patternProperties[`^${m[1]}[1-9][0-9]*_(${alternation(Number(m[2]), Number(m[4]))})$`] = prop;
    } else if ((m = /^([A-Za-z]+)(\d+)\s*[–-]\s*([A-Za-z]+)(\d+)$/.exec(name)) && m[1] === m[3]) {
      patternProperties[`^${m[1]}(${alternation(Number(m[2]), Number(m[4]))})$`] = prop;
    } else throw new Error(`the spec has a property name this test cannot read: ${name}`);
  }
  const description: string = operation.description;
  const listAfter = (label: string) => {
    const line = description.split('\n').find((l) => l.includes(label))!;
    return [...line.matchAll(/`([A-Za-z]+)`/g)].map((x) => x[1]!).flatMap((k) => k.split('/'));
  };
  // "One of `ActionTrackerId`, `EventTypeId`, or `EventTypeCode` is required (event identifier)."
  const eventIds = listAfter('(event identifier)');
  // "One of `ClickId`, `CustomerId`, … is required (attribution key)." That list names `PromoCode`,
  // which has no property; the property `OrderPromoCode` is tagged "Attribution key" and the vendor
  // page documents it as one, so tagged properties count too — except IpAddress (used for attribution
  // of app installs only) and PhoneNumber (call tracking only), per impact-conversions.txt.
  const tagged = Object.entries<any>(schema.properties)
    .filter(([k, p]) => p['x-tags']?.includes('Attribution key') && k !== 'IpAddress' && k !== 'PhoneNumber')
    .map(([k]) => k);
  const attributionKeys = [...new Set([...listAfter('(attribution key)'), ...tagged])];
  expect(eventIds).toContain('EventTypeId');
  expect(attributionKeys).toContain('ClickId');
  return {
    ...schema,
    properties,
    patternProperties,
    additionalProperties: false,
    allOf: [
      { anyOf: eventIds.map((k) => ({ required: [k] })) },
      { anyOf: attributionKeys.map((k) => ({ required: [k] })) },
    ],
  };
}

const ajv = new Ajv2020({ allErrors: true, coerceTypes: true, strict: true, strictRequired: false });
// ajv-formats is CommonJS: its default export is the plugin, or holds it as `default`.
const addFormats = ((m: any) => m.default ?? m)(ajvFormats) as (a: typeof ajv) => void;
addFormats(ajv);
ajv.addKeyword('example');
ajv.addKeyword('x-tags');
ajv.addFormat('decimal', { type: 'number', validate: (n: number) => Number.isFinite(n) });
const schema = checkableSchema(payloadSchema);
const validate = ajv.compile(schema);
/** Fields the spec declares `format: decimal`: impact wants amounts with 2 decimals. */
const decimalPatterns = Object.entries<any>({ ...schema.properties, ...schema.patternProperties })
  .filter(([, p]) => p.format === 'decimal')
  .map(([k]) => new RegExp(k.startsWith('^') ? k : `^${k}$`));

/** Problems with one built request against the spec; empty when it conforms. */
function problems(req: HttpRequest): string[] {
  const out: string[] = [];
  const url = new URL(req.url);
  const pathPattern = new RegExp(`^${PATH.replace('{AccountSID}', '[^/]+')}$`);
  if (req.method.toLowerCase() !== 'post' || !pathPattern.test(url.pathname)) out.push(`operation ${req.method} ${url.pathname}`);
  if (req.headers['content-type'] !== FORM) out.push(`content-type ${req.headers['content-type']}`);
  const scheme = spec.components.securitySchemes[Object.keys(spec.security[0])[0]!];
  if (scheme.scheme === 'basic' && !/^Basic [A-Za-z0-9+/]+=*$/.test(req.headers.authorization ?? '')) out.push('no HTTP Basic auth');
  const form = new URLSearchParams(req.body);
  const body: Record<string, unknown> = {};
  for (const [k, v] of form) {
    if (k in body) out.push(`${k} sent twice`);
    body[k] = v;
  }
  for (const [k, v] of Object.entries(body)) {
    if (decimalPatterns.some((re) => re.test(k)) && !/^-?\d+\.\d{2}$/.test(String(v))) out.push(`${k}=${v} is not an amount with 2 decimals`);
  }
  for (const required of operation.requestBody.required ? payloadSchema.required : []) {
    if (!(required in body)) out.push(`${required} missing`);
  }
  if (!validate(body)) out.push(...validate.errors!.map((e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`));
  return out;
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
    items: [
      { item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2 },
      { item_id: 'SKU2', item_name: 'Tennis Balls', price: 3.14, quantity: 3 },
    ],
    user_id: 'cust-77',
    user_data: { email: 'A@B.example', phone_number: '+15551234567', address: { first_name: 'Ann', country: 'US' } },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140', receivedAt: 1795344441000 },
};

const cases: [string, StoredEvent, Record<string, unknown>][] = [
  ['required fields only (EventTypeId, ClickId, event id as OrderId)', base, { eventTypeId: '12345' }],
  ['all fields (items, tax, shipping, hashed email, consent, ip, user agent)', allFields, { eventTypeId: '12345' }],
  ['EventTypeCode variant', allFields, { eventTypeCode: 'ACME_SALE' }],
  ['order level amount (no items)', { ...base, properties: { value: 10, currency: 'EUR', transaction_id: 'O-2' } }, { eventTypeId: '1' }],
  ['items without a category or name', { ...base, properties: { currency: 'GBP', items: [{ item_id: 'A', price: 1 }] } }, { eventTypeId: '1' }],
  ['CustomProfileId as the only attribution key', { ...base, clickIds: {}, anonymousId: 'a'.repeat(70) }, { eventTypeId: '1' }],
  ['CustomerId as the only attribution key', { ...base, clickIds: {}, properties: { user_id: 'cust-1' } }, { eventTypeId: '1' }],
  ['OrderPromoCode as the only attribution key', { ...base, clickIds: {}, properties: { coupon: 'PARTNER10' } }, { eventTypeId: '1' }],
  ['im_ref click id, TrackingConsent false', { ...base, clickIds: { im_ref: 'imref-1' }, consent: { ad_storage: 'denied' } }, { eventTypeId: '1' }],
];

describe(`impact requests conform to ${SPEC_NAME}`, () => {
  it.each(cases)('%s', async (_, event, eventType) => {
    const d = impact.create(settings({ [event.name]: eventType }));
    const m = await d.map(event);
    if (!('payload' in m)) throw new Error(`skipped: ${m.skip}`);
    const req = d.request([m.payload]);
    expect(problems(req)).toEqual([]);
  });

  it('the check itself catches broken requests', async () => {
    const d = impact.create(settings({ purchase: { eventTypeId: '12345' } }));
    const m = (await d.map(allFields)) as { payload: Record<string, string> };
    const broken = (change: (p: Record<string, string>) => void) => {
      const p = { ...m.payload };
      change(p);
      return problems(d.request([p as never]));
    };
    expect(broken((p) => delete p.OrderId)).not.toEqual([]);
    expect(broken((p) => delete p.EventTypeId)).not.toEqual([]);
    expect(broken((p) => { p.ItemPrice1 = 'fifty'; })).not.toEqual([]);
    expect(broken((p) => { p.ItemPrice1 = '21.2'; })).not.toEqual([]);
    expect(broken((p) => { p.EventDate = '22/11/2026'; })).not.toEqual([]);
    expect(broken((p) => { p.CampaignId = 'abc'; })).not.toEqual([]);
    expect(broken((p) => { p.Unknown = 'x'; })).not.toEqual([]);
    expect(broken((p) => { p.TrackingConsent = 'yes'; })).not.toEqual([]);
    expect(broken((p) => { delete p.ClickId; delete p.CustomProfileId; delete p.CustomerId; delete p.OrderPromoCode; })).not.toEqual([]);
    expect(broken(() => undefined)).toEqual([]);
  });
});
