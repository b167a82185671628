import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { convertTrackBody, convertVisitor } from './mapping.js';

const base: StoredEvent = {
  id: 'evt-0001-abcdef',
  name: 'generate_lead',
  time: 1795344440021,
  anonymousId: 'anon-1234',
  context: { receivedAt: 1795344440500 },
};

const purchase: StoredEvent = {
  ...base,
  id: 'evt-0002-abcdef',
  name: 'purchase',
  properties: {
    transaction_id: 'T-1001',
    value: 42.499,
    currency: 'USD',
    convert_visitor_id: '1731234567890-0.123456',
    items: [{ item_id: 'SKU1', price: 21.25, quantity: 2 }, { item_id: 'SKU2', price: 0 }],
    user_id: 'cust-77',
    user_data: { email: 'a@b.example', phone_number: '+15551234567' },
  },
  context: { ip: '203.0.113.7', userAgent: 'UA', receivedAt: 1795344441000 },
};

describe('convertVisitor', () => {
  it('required fields only: anonymous id, one conversion', () => {
    expect(convertVisitor(base, '100132287')).toEqual({
      visitorId: 'anon-1234',
      events: [{ eventType: 'conversion', data: { goalId: '100132287' } }],
    });
  });

  it('all fields: Convert visitor id, purchase as conversion + conversion with goalData, no personal data', () => {
    const v = convertVisitor(purchase, '100136097');
    expect(v).toEqual({
      visitorId: '1731234567890-0.123456',
      events: [
        { eventType: 'conversion', data: { goalId: '100136097' } },
        {
          eventType: 'conversion',
          data: {
            goalId: '100136097',
            goalData: [
              { key: 'amount', value: 42.5 },
              { key: 'productsCount', value: 3 },
              { key: 'transactionId', value: 'T-1001' },
            ],
          },
        },
      ],
    });
    const json = JSON.stringify(v);
    for (const personal of ['a@b.example', '5551234567', 'cust-77', '203.0.113.7', 'user_data']) expect(json).not.toContain(personal);
  });

  it('a purchase without value, items or transaction id sends the plain conversion only', () => {
    expect(convertVisitor({ ...base, name: 'purchase' }, '1').events).toHaveLength(1);
  });

  it("_conv_v cookie: Convert's visitor id (vi) and the visitor's variations as bucketingData on the plain conversion", () => {
    const event = {
      ...purchase,
      properties: { ...purchase.properties, convert_visitor_id: undefined, cookies: { _conv_v: 'vi:1731-0.5*pv:3*exp:{100.{v.200-g.{9.1}}-101.{v.202}}', _fbp: 'fb.1.2.3' } },
    };
    const v = convertVisitor(event, '100136097');
    expect(v.visitorId).toBe('1731-0.5');
    expect(v.events[0]).toEqual({ eventType: 'conversion', data: { goalId: '100136097', bucketingData: { '100': '200', '101': '202' } } });
    expect(v.events[1]!.data).not.toHaveProperty('bucketingData');
    expect(JSON.stringify(v)).not.toContain('fb.1.2.3'); // other cookies never go to Convert
  });

  it('visitor id: properties.convert_visitor_id, else the cookie vi, else the anonymous id', () => {
    const withCookie = (cookie: string, extra: Record<string, unknown> = {}) =>
      convertVisitor({ ...base, properties: { cookies: { _conv_v: cookie }, ...extra } }, '1');
    expect(withCookie('vi:cv-1', { convert_visitor_id: 'page-id' }).visitorId).toBe('page-id');
    expect(withCookie('vi:cv-1').visitorId).toBe('cv-1');
    expect(withCookie('vi:1*exp:{100.{v.200}}')).toEqual({
      visitorId: 'anon-1234', // vi:1 means Convert keeps no id
      events: [{ eventType: 'conversion', data: { goalId: '1', bucketingData: { '100': '200' } } }],
    });
  });

  it('an unreadable _conv_v is ignored, never a rejection', () => {
    for (const cookie of ['{{{', 'exp:{1.', '%E0%A4%A', 'vi:a@b.example*exp:nope']) {
      expect(convertVisitor({ ...base, properties: { cookies: { _conv_v: cookie } } }, '1')).toEqual(convertVisitor(base, '1'));
    }
    expect(convertVisitor({ ...base, properties: { cookies: 'x' } }, '1')).toEqual(convertVisitor(base, '1'));
    expect(convertVisitor({ ...base, properties: { cookies: { _conv_v: 7 } } }, '1')).toEqual(convertVisitor(base, '1'));
  });

  it('rejects events without a visitor id, and email-like ids', () => {
    expect(() => convertVisitor({ ...base, anonymousId: undefined }, '1')).toThrow(InvalidEventError);
    expect(() => convertVisitor({ ...base, anonymousId: 'a@b.example' }, '1')).toThrow(/email/);
  });
});

describe('convertTrackBody', () => {
  it('many visitors and events in one body, events of one visitor merged', () => {
    const a = convertVisitor(base, '1');
    const b = convertVisitor({ ...base, anonymousId: 'anon-2' }, '2');
    const c = convertVisitor({ ...base, id: 'evt-0003-abcdef' }, '3');
    const body = convertTrackBody('10012', '10034', true, [a, b, c]);
    expect(body).toEqual({
      accountId: '10012',
      projectId: '10034',
      enrichData: true,
      visitors: [
        { visitorId: 'anon-1234', events: [{ eventType: 'conversion', data: { goalId: '1' } }, { eventType: 'conversion', data: { goalId: '3' } }] },
        { visitorId: 'anon-2', events: [{ eventType: 'conversion', data: { goalId: '2' } }] },
      ],
    });
    expect(a.events).toHaveLength(1); // the mapped payloads are not changed
    expect(convertTrackBody('1', '2', false, [a])).not.toHaveProperty('enrichData');
  });
});
