import { randomBytes } from 'node:crypto';
import type { StoredEvent } from '../event.js';
import { recordingMask, requestText } from '../delivery/record.js';
import { Sender } from '../delivery/send.js';
import { BadCredentialsError, InvalidEventError, isDeliveryError, RetryableError } from '../destinations/errors.js';
import type { Destination, HttpRequest } from '../destinations/types.js';

/** What trying a destination gave: the request as recorded (redacted) and the vendor's answer, or why nothing was sent. */
export interface TryResult {
  destination: string;
  /** The tag event name tried, and what the vendor calls it. */
  eventName: string;
  vendorEvent?: string;
  dryRun: boolean;
  /**
   * `accepted` (the vendor's success), `refused` (a 4xx other than 401/403, or the event cannot meet the
   * vendor's rules), `bad-credentials` (401/403), `retryable` (408, 429, 5xx, no answer), `skipped`
   * (the destination would not send it), `dry-run` (built, not sent).
   */
  outcome: 'accepted' | 'refused' | 'bad-credentials' | 'retryable' | 'skipped' | 'dry-run';
  /** Why, when it is not `accepted`: the mapping error, the skip reason, the vendor's message. */
  message?: string;
  /** The sample event (test data only). */
  event: StoredEvent;
  /** The request exactly as built, with secrets and the sample's personal data redacted. */
  request?: string;
  response?: { status: number; body: string };
  durationMs?: number;
}

/**
 * A sample event a destination takes: a purchase-like event with value, currency, items, a test email,
 * phone and name, click ids for every vendor, consent granted. Nothing about it is real; its ids are
 * unique, so a vendor that deduplicates takes each try.
 */
export function sampleEvent(name: string, context: { ip?: string; userAgent?: string; origin?: string }, now = Date.now()): StoredEvent {
  const id = `tagrelay-try-${now.toString(36)}-${randomBytes(4).toString('hex')}`;
  return {
    id,
    name,
    time: now,
    anonymousId: `tagrelay-try-visitor-${randomBytes(4).toString('hex')}`,
    url: `${context.origin ?? 'https://shop.example'}/checkout/complete?utm_source=tagrelay&utm_medium=debug`,
    clickIds: {
      click_id: 'tagrelay-try-click-id',
      clickid: 'tagrelay-try-impact-click',
      irclickid: 'tagrelay-try-impact-click',
      ndclid: 'tagrelay-try-nextdoor-click',
    },
    consent: { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted', gpc: false },
    properties: {
      transaction_id: `TRY-${id.slice(-8).toUpperCase()}`,
      value: 42.5,
      currency: 'USD',
      items: [
        { item_id: 'TRY-SKU-1', item_name: 'Sample anvil', item_category: 'Samples', price: 21.25, quantity: 2 },
      ],
      user_id: 'tagrelay-try-customer',
      user_data: {
        email: 'tagrelay-test@example.com',
        phone_number: '+12025550143',
        // Values that appear nowhere else in a request: each is masked wherever it appears in the record.
        address: { first_name: 'Avery', last_name: 'Quinlan', city: 'Springfield', region: 'IL', country: 'US' },
      },
    },
    // As if the shop's backend confirmed it: a destination with verifiedOnly takes the sample too.
    context: { ip: context.ip, userAgent: context.userAgent, receivedAt: now, verified: true },
  };
}

/** The event name a try sends: the one asked for when the destination takes it, else `purchase` if taken, else the first taken. */
export function sampleEventName(destination: Destination, asked?: string): string | undefined {
  const routed = destination.routedEvents;
  if (asked && routed.includes(asked)) return asked;
  return routed.includes('purchase') ? 'purchase' : routed[0];
}

/**
 * Sends a sample event to one destination, as a delivery would: map, build the request with its auth,
 * record it redacted (secrets and the sample's personal data), send it unless the destination is in
 * dry run, and judge the answer by the destination's own rules. Nothing is stored; the lane's state is
 * not touched.
 */
export async function tryDestination(
  destination: Destination,
  event: StoredEvent,
  opts: { redact: (text: string) => string; timeoutMs: number; defaultCountry?: string },
): Promise<TryResult> {
  const clean = recordingMask([event], opts.redact, opts.defaultCountry);
  const result = {
    destination: destination.name,
    eventName: event.name,
    vendorEvent: destination.vendorEvent(event.name),
    dryRun: destination.dryRun,
    event,
  };
  const failure = (e: unknown): Pick<TryResult, 'outcome' | 'message'> => {
    const message = clean(isDeliveryError(e) && e.body ? `${e.message}: ${e.body}` : ((e as Error)?.message ?? String(e)));
    if (e instanceof BadCredentialsError) return { outcome: 'bad-credentials', message };
    if (e instanceof RetryableError) return { outcome: 'retryable', message };
    if (e instanceof InvalidEventError) return { outcome: 'refused', message };
    return { outcome: 'refused', message: `cannot map event: ${message}` };
  };
  let payload: unknown;
  try {
    const mapped = await destination.map(event);
    if ('skip' in mapped) return { ...result, outcome: 'skipped', message: mapped.skip };
    if ('wait' in mapped) return { ...result, outcome: 'skipped', message: mapped.reason };
    payload = mapped.payload;
  } catch (e) {
    return { ...result, ...failure(e) };
  }
  let request: HttpRequest;
  try {
    request = destination.request([payload]);
  } catch (e) {
    return { ...result, ...failure(e) };
  }
  const recorded = clean(requestText(request));
  if (destination.dryRun) return { ...result, outcome: 'dry-run', request: recorded, message: 'dry run: built, not sent' };
  const sender = new Sender(destination.name, { connections: 1, timeoutMs: opts.timeoutMs });
  const started = performance.now();
  try {
    const response = await sender.send(request);
    const durationMs = Math.round(performance.now() - started);
    const answer = { status: response.status, body: clean(response.body.slice(0, 8000)) };
    try {
      destination.check(response, request);
      return { ...result, outcome: 'accepted', request: recorded, response: answer, durationMs };
    } catch (e) {
      return { ...result, ...failure(e), request: recorded, response: answer, durationMs };
    }
  } catch (e) {
    return { ...result, ...failure(e), request: recorded, durationMs: Math.round(performance.now() - started) };
  } finally {
    await sender.close();
  }
}
