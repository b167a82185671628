import type { StoredEvent } from '../../event.js';
import { InvalidEventError } from '../errors.js';
import { givenEmail, trimmedEmail } from '../pii.js';
import type { ChaseConversion } from './types.js';

const MAX_TYPE = 63;

/**
 * Chase gets the plain email, trimmed: it matches contacts by address and takes no hash.
 * `conversion_data` is the event's properties without `user_data` (personal) and `cookies` (the
 * first-party cookies the tag copied for other vendors), plus `event_id`: the tag's event id, the
 * same for every retry of the event, so Chase can tell a repeat from a new conversion.
 */
export function chaseConversion(event: StoredEvent, conversionType: string): ChaseConversion {
  const fail = (why: string) => new InvalidEventError(why, { destination: 'chase' });
  const props = event.properties ?? {};
  const given = givenEmail(props);
  if (typeof given !== 'string' || !given.trim()) throw fail('no properties.user_data.email: Chase requires an email');
  const email = trimmedEmail(given);
  if (!email) throw fail('properties.user_data.email is not an email address');
  if (conversionType.length > MAX_TYPE) throw fail(`conversion_type is longer than ${MAX_TYPE} characters`);
  const { user_data: _personal, cookies: _cookies, ...properties } = props;
  return { email, conversion_type: conversionType, conversion_data: { ...properties, event_id: event.id } };
}
