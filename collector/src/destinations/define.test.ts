import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../event.js';
import { chase } from './chase/index.js';

const settings = (extra: Record<string, unknown> = {}) =>
  chase.settings.parse({ apiKey: 'chase-define-key', events: { purchase: 'purchase' }, ...extra });
const purchase = (context: StoredEvent['context'], extra: Partial<StoredEvent> = {}): StoredEvent => ({
  id: 'evt-define-0001',
  name: 'purchase',
  time: context.receivedAt,
  properties: { transaction_id: 'T-1', user_data: { email: 'ann@example.com' } },
  context,
  ...extra,
});

describe('defineDestination', () => {
  it('verifiedOnly: a browser event waits for the backend to confirm it, then is skipped; a confirmed one goes', async () => {
    const d = chase.create(settings({ verifiedOnly: ['purchase'], verifyWindowHours: 2 }));
    const now = Date.now();
    expect(await d.map(purchase({ receivedAt: now }))).toEqual({
      wait: now + 2 * 3_600_000,
      reason: "waiting for the shop's backend to confirm it (verifiedOnly)",
    });
    expect(await d.map(purchase({ receivedAt: now - 3 * 3_600_000 }))).toEqual({
      skip: "not verified: the shop's backend did not confirm it within 2 h (verifiedOnly)",
    });
    expect(await d.map(purchase({ receivedAt: now, verified: true }))).toHaveProperty('payload');
    // Other events are not held.
    const other = chase.create(settings({ verifiedOnly: ['sign_up'] }));
    expect(await other.map(purchase({ receivedAt: now }))).toHaveProperty('payload');
  });

  it('what the collector remembered of the visitor stands in for what the event lacks: consent is checked on it', async () => {
    const d = chase.create(settings());
    const remembered = purchase({ receivedAt: Date.now(), consent: { ad_user_data: 'denied' }, clickIds: { clickid: 'c-1' } });
    expect(await d.map(remembered)).toEqual({ skip: 'consent: ad_user_data' });
    const own = { ...remembered, consent: { ad_user_data: 'granted' as const } };
    expect(await d.map(own)).toHaveProperty('payload'); // the event's own consent wins
  });
});
