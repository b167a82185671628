import { describe, expect, it } from 'vitest';
import { chase } from '../destinations/chase/index.js';
import { convert } from '../destinations/convert/index.js';
import { nextdoor } from '../destinations/nextdoor/index.js';
import type { DeliveryRecord } from '../store/types.js';
import { filtersOf } from './debug.js';
import { jsonForHtml } from './debugPage.js';
import { sampleEvent, sampleEventName } from './debugTry.js';
import { matchesVerdict, verdictsOf } from './debugVerdicts.js';

const chaseDest = chase.create(chase.settings.parse({ apiKey: 'chase-unit-key', events: { purchase: 'purchase', sign_up: 'sign-up' } }));
const convertDest = convert.create(convert.settings.parse({ accountId: '1', projectId: '2', goals: { purchase: 'checkout' } }));
const dryNextdoor = nextdoor.create(
  nextdoor.settings.parse({ token: 'nextdoor-unit-token', dataSourceId: 'ds-1', dryRun: true, events: { purchase: 'purchase' } }),
);

const delivery = (destination: string, d: Partial<DeliveryRecord>): DeliveryRecord => ({
  id: 1,
  eventId: 'evt-unit-0001',
  eventName: 'purchase',
  destination,
  state: 'pending',
  attempts: 0,
  createdAt: 1,
  updatedAt: 2,
  ...d,
});
const event = { id: 'evt-unit-0001', name: 'purchase' };

describe('verdicts', () => {
  it('delivered with the answer, dry run with the request, rejected with the message, dead, skipped with the consent key', () => {
    const [c] = verdictsOf(event, [delivery('chase', { state: 'delivered', status: 202, detail: '{"message":"Conversion queued"}' })], [chaseDest]);
    expect(c).toMatchObject({ verdict: 'delivered', vendorEvent: 'purchase', response: { status: 202, body: '{"message":"Conversion queued"}' } });
    expect(c!.reason).toBe('chase accepted it (HTTP 202): {"message":"Conversion queued"}');
    const [n] = verdictsOf(event, [delivery('nextdoor', { state: 'delivered', detail: 'dry run: not sent', request: 'POST x' })], [dryNextdoor]);
    expect(n).toMatchObject({ verdict: 'dry-run', request: 'POST x' });
    const [r] = verdictsOf(event, [delivery('chase', { state: 'rejected', status: 422, detail: 'chase: 422 email invalid' })], [chaseDest]);
    expect(r).toMatchObject({ verdict: 'rejected', reason: 'chase refused it (HTTP 422): chase: 422 email invalid' });
    const [m] = verdictsOf(event, [delivery('chase', { state: 'rejected', detail: 'no email' })], [chaseDest]);
    expect(m!.reason).toBe('cannot be sent to chase: no email');
    const [d] = verdictsOf(event, [delivery('chase', { state: 'dead', status: 503, detail: 'gave up after 3 attempts: 503' })], [chaseDest]);
    expect(d).toMatchObject({ verdict: 'dead', reason: expect.stringContaining('gave up after 3 attempts') });
    const [s] = verdictsOf(event, [delivery('chase', { state: 'skipped', detail: 'consent: ad_user_data (GPC)' })], [chaseDest]);
    expect(s).toMatchObject({ verdict: 'skipped', consentKey: 'ad_user_data' });
    expect(s!.reason).toContain('Global Privacy Control');
  });

  it('pending: the next attempt and last error, in flight, or a paused destination', () => {
    const at = Date.UTC(2030, 0, 1);
    const [p] = verdictsOf(event, [delivery('chase', { attempts: 2, status: 503, detail: 'down', nextAt: at })], [chaseDest]);
    expect(p).toMatchObject({ verdict: 'pending', lastError: 'down', nextAt: at, reason: 'attempt 2 failed (HTTP 503): down; next attempt at 2030-01-01T00:00:00.000Z' });
    const [f] = verdictsOf(event, [delivery('chase', { attempts: 1, inFlight: true })], [chaseDest]);
    expect(f!.reason).toBe('being sent now (attempt 2)');
    const paused = { destination: 'chase', state: 'paused' as const, inFlight: 0, consecutiveFailures: 1, reason: '401 Invalid API key' };
    const [w] = verdictsOf(event, [delivery('chase', { nextAt: at })], [chaseDest], [paused]);
    expect(w).toMatchObject({ verdict: 'pending', lane: { state: 'paused', reason: '401 Invalid API key' } });
    expect(w!.reason).toMatch(/^waiting for its first attempt, due 2030-.*chase is paused/);
    const [k] = verdictsOf(event, [delivery('chase', { status: 401, detail: 'chase: 401 Invalid API key', nextAt: at })], [chaseDest], [paused]);
    expect(k!.reason).toMatch(/^waiting \(HTTP 401\): chase: 401 Invalid API key; next attempt at 2030-.*chase is paused/);
  });

  it('not routed: names the setting that would route it (Convert: goals), or says it was routed only later', () => {
    const view = { id: 'evt-unit-0001', name: 'page_view' };
    const [c, v] = verdictsOf(view, [], [chaseDest, convertDest]);
    expect(c).toMatchObject({ verdict: 'not-routed', setting: 'destinations.chase.events' });
    expect(c!.reason).toBe('no mapping for "page_view": add "page_view" to destinations.chase.events to send it to chase (it takes purchase, sign_up)');
    expect(v).toMatchObject({ verdict: 'not-routed', setting: 'destinations.convert.goals' });
    const [later] = verdictsOf(event, [], [chaseDest]);
    expect(later).toMatchObject({ verdict: 'not-routed', vendorEvent: 'purchase' });
    expect(later!.reason).toContain('was not routed to chase when it arrived');
    // A delivery to a destination no longer configured is still shown.
    const [, gone] = verdictsOf(event, [delivery('impact', { state: 'delivered', status: 200 })], [chaseDest]);
    expect(gone).toMatchObject({ destination: 'impact', verdict: 'delivered', configured: false });
  });

  it('filters: a destination means the events it takes; a verdict at any destination, or at the one given', () => {
    const verdicts = verdictsOf(event, [delivery('chase', { state: 'delivered', status: 202 })], [chaseDest, convertDest]);
    expect(verdicts.map((v) => v.verdict)).toEqual(['delivered', 'not-routed']);
    expect(matchesVerdict(verdicts, 'chase')).toBe(true);
    expect(matchesVerdict(verdicts, 'convert')).toBe(false);
    expect(matchesVerdict(verdicts, undefined, 'not-routed')).toBe(true);
    expect(matchesVerdict(verdicts, 'chase', 'not-routed')).toBe(false);
    expect(matchesVerdict(verdicts)).toBe(true);
  });
});

describe('the page and its JSON', () => {
  it('the data block cannot be closed by a value', () => {
    const text = jsonForHtml({ a: '</script><img src=x onerror=alert(1)>&\u2028' });
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual({ a: '</script><img src=x onerror=alert(1)>&\u2028' });
  });

  it('reads filters from a query string, and refuses a wrong one', () => {
    expect(filtersOf({ name: 'purchase', verdict: 'dead', since: '2030-01-01T00:00:00Z', until: '1893456000000', limit: '20' })).toEqual({
      id: undefined,
      name: 'purchase',
      destination: undefined,
      verdict: 'dead',
      clickId: undefined,
      since: Date.UTC(2030, 0, 1),
      until: 1893456000000,
      limit: 20,
    });
    expect(() => filtersOf({ verdict: 'lost' })).toThrow(/verdict: expected one of delivered, pending/);
    expect(() => filtersOf({ since: 'yesterday' })).toThrow(/since: expected ms since 1970 or an ISO date/);
    expect(() => filtersOf({ name: ['a', 'b'] })).toThrow(/name: expected a string/);
  });

  it('a sample event for Try: purchase when the destination takes it, personal data that is test data', () => {
    expect(sampleEventName(chaseDest)).toBe('purchase');
    expect(sampleEventName(chaseDest, 'sign_up')).toBe('sign_up');
    expect(sampleEventName(chaseDest, 'page_view')).toBe('purchase');
    const e = sampleEvent('purchase', { ip: '203.0.113.1', userAgent: 'UA' }, Date.UTC(2030, 0, 1));
    expect(e).toMatchObject({ name: 'purchase', consent: { ad_storage: 'granted', ad_user_data: 'granted' }, properties: { value: 42.5, currency: 'USD' } });
    expect(e.id).toMatch(/^tagrelay-try-/);
    expect(e.context).toEqual({ ip: '203.0.113.1', userAgent: 'UA', receivedAt: Date.UTC(2030, 0, 1), verified: true });
  });
});
