import { describe, expect, it } from 'vitest';
import { VisitorWrites, visitorUpdates } from './visitorMemory.js';

const item = (anonymousId: string, time: number, extra: Record<string, unknown>) => ({
  event: { id: `evt-${anonymousId}-${time}`, name: 'page_view', time, anonymousId, ...extra },
  context: { receivedAt: time },
  destinations: [],
});

describe('visitorUpdates', () => {
  it('one update per visitor: the later click id of each parameter and the later consent win', () => {
    expect(
      visitorUpdates([
        item('v-1', 2000, { clickIds: { irclickid: 'new' }, consent: { ad_storage: 'granted' } }),
        item('v-1', 1000, { clickIds: { irclickid: 'old', ndclid: 'nd' }, consent: { ad_storage: 'denied' } }),
        item('v-2', 1500, {}),
      ]),
    ).toEqual([{ anonymousId: 'v-1', clickIds: { irclickid: 'new', ndclid: 'nd' }, consent: { ad_storage: 'granted' }, at: 2000 }]);
  });
});

describe('VisitorWrites', () => {
  it('writes a visitor again only when its click ids or consent changed', () => {
    const writes = new VisitorWrites();
    const u = (consent: string, at: number) => ({ anonymousId: 'v-1', clickIds: { irclickid: 'ir' }, consent: { ad_storage: consent as 'granted' }, at });
    expect(writes.changed([u('granted', 1)])).toHaveLength(1);
    expect(writes.changed([u('granted', 2)])).toHaveLength(0);
    expect(writes.changed([u('denied', 3)])).toHaveLength(1);
    // The same values in another order are no change; another click id, one more or one less is.
    const ids = (clickIds: Record<string, string>) => ({ anonymousId: 'v-2', clickIds, consent: { gpc: true }, at: 1 });
    expect(writes.changed([ids({ irclickid: 'ir', ndclid: 'nd' })])).toHaveLength(1);
    expect(writes.changed([ids({ ndclid: 'nd', irclickid: 'ir' })])).toHaveLength(0);
    expect(writes.changed([ids({ ndclid: 'nd', irclickid: 'ir2' })])).toHaveLength(1);
    expect(writes.changed([ids({ ndclid: 'nd', irclickid: 'ir2', gclid: 'g' })])).toHaveLength(1);
    expect(writes.changed([ids({ ndclid: 'nd', irclickid: 'ir2' })])).toHaveLength(1);
    expect(writes.changed([{ anonymousId: 'v-2', clickIds: { ndclid: 'nd', irclickid: 'ir2' }, at: 2 }])).toHaveLength(1);
  });
});
