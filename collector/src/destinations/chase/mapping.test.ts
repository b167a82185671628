import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { chaseConversion } from './mapping.js';

const base: StoredEvent = { id: 'evt-12345678', name: 'sign_up', time: 1795344440021, context: { receivedAt: 1795344440100 } };

describe('chaseConversion', () => {
  it('required fields only: the trimmed email, the mapped type and the event id', () => {
    expect(chaseConversion({ ...base, properties: { user_data: { email: ' Ann@Example.com ' } } }, 'sign-up')).toEqual({
      email: 'Ann@Example.com',
      conversion_type: 'sign-up',
      conversion_data: { event_id: 'evt-12345678' },
    });
  });
  it('the event id goes into conversion_data so Chase can deduplicate (it wins over a property of that name)', () => {
    const c = chaseConversion({ ...base, properties: { event_id: 'page-value', user_data: { email: 'a@b.co' } } }, 'sign-up');
    expect(c.conversion_data).toEqual({ event_id: 'evt-12345678' });
  });
  it("the tag's copied cookies are not conversion data", () => {
    const c = chaseConversion({ ...base, properties: { plan: 'pro', cookies: { _fbp: 'fb.1.2.3', _conv_v: 'vi:1' }, user_data: { email: 'a@b.co' } } }, 'sign-up');
    expect(c.conversion_data).toEqual({ plan: 'pro', event_id: 'evt-12345678' });
  });
  it('all fields: non-personal properties become conversion_data, user_data never does', () => {
    const event = {
      ...base,
      name: 'purchase',
      properties: {
        transaction_id: 'T-1',
        value: 42.5,
        currency: 'USD',
        items: [{ item_id: 'SKU1', quantity: 2 }],
        user_data: { email: 'a@b.example', phone_number: '+15551234567' },
      },
    };
    const c = chaseConversion(event, 'purchase');
    expect(c).toEqual({
      email: 'a@b.example',
      conversion_type: 'purchase',
      conversion_data: { transaction_id: 'T-1', value: 42.5, currency: 'USD', items: [{ item_id: 'SKU1', quantity: 2 }], event_id: 'evt-12345678' },
    });
    expect(JSON.stringify(c.conversion_data)).not.toContain('555');
  });
  it.each([
    ['no email', {}, /requires an email/],
    ['an email that is not one', { user_data: { email: 'not-an-email' } }, /not an email/],
  ])('rejects %s', (_w, properties, message) => {
    expect(() => chaseConversion({ ...base, properties }, 'sign-up')).toThrow(InvalidEventError);
    expect(() => chaseConversion({ ...base, properties }, 'sign-up')).toThrow(message);
  });
  it('rejects a conversion_type over 63 characters', () => {
    expect(() => chaseConversion({ ...base, properties: { user_data: { email: 'a@b.co' } } }, 'x'.repeat(64))).toThrow(/63/);
  });
});
