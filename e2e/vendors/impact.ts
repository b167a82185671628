import { VendorServer, type ReceivedRequest, type VendorAnswer } from './server.js';

const ATTRIBUTION_KEYS = ['ClickId', 'CustomerId', 'CustomProfileId', 'CustomClickId', 'PromoCode', 'OrderPromoCode', 'MediaId', 'MediaPartnerId', 'UniqueUrl', 'CallerId', 'GoogAId', 'AndroidId', 'AppleIfa', 'AppleIfv'];
const MONEY_FIELDS = /^(Amount|OrderSubTotalPostDiscount|OrderDiscount|OrderShipping|OrderTax|OrderMargin|Money\d+|Item(Price|SubTotal|Discount|TotalDiscount)\d+)$/;
const ITEM_FIELD = /^Item(Sku|Name|Category|SubCategory|Quantity|Price|SubTotal|Discount|DiscountRate|TotalDiscount|PromoCode|Brand|Mpn|DeliveryType)(\d+)$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * impact.com's documented rules for POST /Advertisers/{AccountSID}/Conversions
 * (https://integrations.impact.com/impact-brand/reference/submit-a-conversion): HTTP Basic
 * `AccountSID:AuthToken`, form-urlencoded, required fields, lengths, hashed email, currency with
 * money, 2-decimal amounts, items numbered from 1, each with the fields "required if passing
 * item-level details" (ItemSku, ItemCategory, ItemQuantity) and a price or subtotal. Answers as impact does: 200
 * `{Status: "QUEUED", QueuedUri}` or 400 `{Status: "ERROR", errors: [{field, level, message}]}`.
 */
export function impactRules(accountSid: string, authToken: string, campaignId = '1000') {
  let submissions = 0;
  return (req: ReceivedRequest): VendorAnswer => {
    const error = (errors: { field: string; message: string }[], status = 400): VendorAnswer => ({
      status,
      body: { Status: 'ERROR', errors: errors.map((e) => ({ ...e, level: 'ERROR' })) },
      violation: status === 400 ? JSON.stringify(errors) : undefined,
    });
    if (req.method === 'GET' && req.path === `/Advertisers/${accountSid}/Campaigns/${campaignId}`) {
      const ok = req.headers.authorization === `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
      return ok ? { status: 200, body: { Id: campaignId, Name: 'Stand-in campaign' } } : { status: 401, body: { Status: 'ERROR', Message: 'Unauthorized' } };
    }
    if (req.method !== 'POST' || req.path !== `/Advertisers/${accountSid}/Conversions`) {
      return { status: 404, body: { Status: 'ERROR', Message: 'Not Found' }, violation: `${req.method} ${req.path}` };
    }
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return { status: 401, body: { Status: 'ERROR', Message: 'Unauthorized' } };
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return error([{ field: 'Content-Type', message: 'must be application/x-www-form-urlencoded' }]);
    }
    const form = new URLSearchParams(req.body);
    const f = Object.fromEntries(form);
    const errors: { field: string; message: string }[] = [];
    const bad = (field: string, message: string) => errors.push({ field, message });
    for (const key of new Set(form.keys())) if (form.getAll(key).length > 1) bad(key, 'sent more than once');
    if (f.CampaignId !== campaignId) bad('CampaignId', `unknown campaign ${f.CampaignId ?? '(missing)'}`);
    if (!f.EventDate || (f.EventDate !== 'NOW' && !(ISO_8601.test(f.EventDate) && !Number.isNaN(Date.parse(f.EventDate))))) bad('EventDate', 'must be ISO 8601');
    if (!f.OrderId) bad('OrderId', 'required');
    else if (f.OrderId.length > 64) bad('OrderId', 'at most 64 characters');
    const eventIds = ['EventTypeId', 'EventTypeCode', 'ActionTrackerId'].filter((k) => f[k]);
    if (eventIds.length === 0) bad('EventTypeId', 'one of EventTypeId, EventTypeCode, ActionTrackerId is required');
    if (f.EventTypeId !== undefined && !/^\d+$/.test(f.EventTypeId)) bad('EventTypeId', 'must be an integer');
    if (!ATTRIBUTION_KEYS.some((k) => f[k])) bad('ClickId', 'an attribution key is required');
    if (f.ClickId !== undefined && f.ClickId.length > 64) bad('ClickId', 'at most 64 characters');
    if (f.CustomProfileId !== undefined && f.CustomProfileId.length > 70) bad('CustomProfileId', 'at most 70 characters');
    if (f.CustomerId !== undefined && EMAIL.test(f.CustomerId)) bad('CustomerId', 'must not be an email address');
    if (f.CustomerEmail !== undefined && !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(f.CustomerEmail)) bad('CustomerEmail', 'must be a SHA-1 or SHA-256 hash');
    if (f.TrackingConsent !== undefined && !['true', 'false'].includes(f.TrackingConsent)) bad('TrackingConsent', 'must be true or false');
    const money = Object.keys(f).filter((k) => MONEY_FIELDS.test(k));
    for (const k of money) if (!/^-?\d+(\.\d{1,2})?$/.test(f[k]!)) bad(k, `Invalid numeric format (${f[k]})`);
    if (money.length && !/^[A-Z]{3}$/.test(f.CurrencyCode ?? '')) bad('CurrencyCode', 'required with monetary fields (ISO 4217)');
    const itemNumbers = new Set<number>();
    for (const k of Object.keys(f)) {
      const m = ITEM_FIELD.exec(k);
      if (m) itemNumbers.add(Number(m[2]));
    }
    const sorted = [...itemNumbers].sort((a, b) => a - b);
    sorted.forEach((n, i) => {
      if (n !== i + 1) bad(`ItemSku${n}`, 'items must be numbered from 1 without gaps');
      if (!f[`ItemSku${n}`]) bad(`ItemSku${n}`, 'required with item-level details');
      if (!f[`ItemCategory${n}`]) bad(`ItemCategory${n}`, 'required with item-level details');
      if (!/^\d+$/.test(f[`ItemQuantity${n}`] ?? '')) bad(`ItemQuantity${n}`, 'must be a whole number');
      if (f[`ItemPrice${n}`] !== undefined && f[`ItemSubTotal${n}`] !== undefined) bad(`ItemPrice${n}`, 'send ItemPrice or ItemSubTotal, not both');
      if (f[`ItemPrice${n}`] === undefined && f[`ItemSubTotal${n}`] === undefined) bad(`ItemPrice${n}`, 'ItemPrice or ItemSubTotal required');
    });
    if (sorted.length && f.OrderSubTotalPostDiscount !== undefined) bad('OrderSubTotalPostDiscount', 'not with item-level details');
    if (errors.length) return error(errors);
    submissions += 1;
    return { status: 200, body: { Status: 'QUEUED', QueuedUri: `/Advertisers/${accountSid}/APISubmissions/S${submissions}` } };
  };
}

export function startImpact(accountSid = 'IRtest123', authToken = 'impact-test-token', campaignId = '1000'): Promise<VendorServer> {
  return new VendorServer(impactRules(accountSid, authToken, campaignId)).start();
}
