import type { TrackedEvent } from '../../collector/src/event.js';
import { clean } from './clean.js';
import { clickIds } from './clickIds.js';
import { decided, setConsent, stamp } from './consent.js';
import { clicks, visitor } from './firstParty.js';
import { ignore } from './log.js';
import { attribution } from './options.js';
import { enqueue } from './queue.js';
import { tabId } from './tab.js';
import { uuid } from './uuid.js';

/**
 * `window.track(name, properties)`; `track('consent', {...})` sets consent instead. Builds the
 * event with everything known now (click ids, consent, GPC) and queues it. Never throws.
 */
export const track = (name: string, properties?: Record<string, unknown>): void => {
  try {
    if (name == 'consent') return setConsent(properties);
    if (!/^[\w.:-]{1,64}$/.test(name)) return ignore('name', name);
    const time = Date.now();
    const event = clean({
      id: uuid(),
      name,
      time,
      anonymousId: visitor,
      url: location.href,
      referrer: document.referrer || undefined,
      clickIds: clickIds(clicks, time, attribution),
      consent: stamp(),
      properties: (typeof properties == 'object' && properties) || undefined,
    }) as TrackedEvent;
    enqueue({ e: event, o: tabId, p: decided ? 0 : 1 });
  } catch {
    ignore('error');
  }
};
