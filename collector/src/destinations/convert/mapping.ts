import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { looksLikeEmail } from '../pii.js';
import { finite, text } from '../values.js';
import { CONVERT_VISITOR_COOKIE, cookieOf, parseConvertCookie, type ConvertCookie } from './cookie.js';
import type { ConvertConversionEvent, ConvertGoalData, ConvertTrackBody, ConvertVisitor } from './types.js';

/** The event property that carries Convert's own visitor id when the page passes it itself. */
export const CONVERT_VISITOR_ID_PROPERTY = 'convert_visitor_id';
const MAX_VISITOR_ID = 256;

/** Convert's `_conv_v` cookie of the event (`properties.cookies._conv_v`), parsed; empty when absent or unreadable. */
export function convertCookie(event: StoredEvent): ConvertCookie {
  return parseConvertCookie(cookieOf(event.properties, CONVERT_VISITOR_COOKIE)) ?? { bucketing: {} };
}

/**
 * Convert's visitor id: `properties.convert_visitor_id` when the page passes it, else `vi` from the
 * `_conv_v` cookie, else the tag's anonymous id.
 */
export function convertVisitorId(event: StoredEvent, cookie: ConvertCookie = convertCookie(event)): string | undefined {
  return text(event.properties?.[CONVERT_VISITOR_ID_PROPERTY]) ?? cookie.visitorId ?? text(event.anonymousId);
}

/** `goalData` of a purchase: amount (2 decimals), productsCount (sum of quantities), transactionId. */
function purchaseGoalData(props: Record<string, unknown>): ConvertGoalData[] {
  const data: ConvertGoalData[] = [];
  const value = finite(props.value);
  if (value !== undefined && value >= 0) data.push({ key: 'amount', value: Math.round(value * 100) / 100 });
  if (Array.isArray(props.items) && props.items.length) {
    const count = props.items.reduce<number>((n, item) => {
      const q = finite((item as Record<string, unknown> | null)?.quantity);
      return n + (q !== undefined && Number.isInteger(q) && q > 0 ? q : 1);
    }, 0);
    data.push({ key: 'productsCount', value: count });
  }
  const transactionId = text(props.transaction_id);
  if (transactionId) data.push({ key: 'transactionId', value: transactionId });
  return data;
}

/**
 * The tag's event → one Convert visitor with its conversion events. A purchase is sent as Convert's
 * SDKs send it: a conversion `{goalId}` and a conversion `{goalId, goalData}`. The experiences and
 * variations of the visitor's `_conv_v` cookie go with the first as `bucketingData` (experience id →
 * variation id), as the SDKs send a visitor's bucketing, so the conversion counts for its variation.
 * Never carries personal data. Throws InvalidEventError when there is no usable visitor id.
 */
export function convertVisitor(event: StoredEvent, goalId: string): ConvertVisitor {
  const fail = (why: string) => new InvalidEventError(why, { destination: 'convert' });
  const cookie = convertCookie(event);
  const visitorId = convertVisitorId(event, cookie);
  if (!visitorId) throw fail('visitorId: the event has no anonymousId, properties.convert_visitor_id or _conv_v visitor id');
  if (visitorId.length > MAX_VISITOR_ID) throw fail(`visitorId is longer than ${MAX_VISITOR_ID} characters`);
  if (looksLikeEmail(visitorId)) throw fail('visitorId must not be an email address');
  const conversion: ConvertConversionEvent = { eventType: 'conversion', data: { goalId } };
  if (Object.keys(cookie.bucketing).length) conversion.data.bucketingData = { ...cookie.bucketing };
  const events: ConvertConversionEvent[] = [conversion];
  if (event.name === 'purchase') {
    const goalData = purchaseGoalData(event.properties ?? {});
    if (goalData.length) events.push({ eventType: 'conversion', data: { goalId, goalData } });
  }
  return { visitorId, events };
}

/** Many mapped events → one track body; events of the same visitor are sent under one visitor. */
export function convertTrackBody(accountId: string, projectId: string, enrichData: boolean, visitors: ConvertVisitor[]): ConvertTrackBody {
  const byId = new Map<string, ConvertVisitor>();
  for (const v of visitors) {
    const seen = byId.get(v.visitorId);
    if (seen) seen.events.push(...v.events);
    else byId.set(v.visitorId, { visitorId: v.visitorId, events: [...v.events] });
  }
  return { accountId, projectId, ...(enrichData ? { enrichData: true } : {}), visitors: [...byId.values()] };
}
