import type { TrackedEvent } from '../../collector/src/event.js';
import { clean } from './clean.js';
import { clickIds } from './clickIds.js';
import { decided, setConsent, stamp } from './consent.js';
import { clicks, visitor } from './firstParty.js';
import { ignore, log } from './log.js';
import { attribution, cookieNames } from './options.js';
import { pageUrl } from './pageUrl.js';
import { enqueue } from './queue.js';
import { tabId } from './tab.js';
import { uuid } from './uuid.js';

/**
 * The first-party cookies named in `data-cookies`, as `document.cookie` holds them (read only when
 * the site named cookies: it is not free on every track()).
 */
const cookies = () =>
  cookieNames[0]
    ? Object.fromEntries(
        document.cookie
          .split('; ')
          .map((pair) => pair.split(/=(.*)/))
          .filter(([name]) => cookieNames.includes(name!)),
      )
    : undefined;

/**
 * `window.track(name, properties, {id})`; `track('consent', {...})` sets consent instead. Builds the
 * event with everything known now (click ids, consent, GPC, the cookies of `data-cookies`) and queues
 * it. `id` is the site's own event id (8–64 of letters, digits and `_.:-`), to share with a vendor's
 * browser pixel for deduplication; else a random one. Never throws.
 */
export const track = (name: string, properties?: Record<string, unknown>, options?: { id?: string }): void => {
  try {
    if (name == 'consent') return setConsent(properties);
    if (!/^[\w.:-]{1,64}$/.test(name)) return ignore('name', name);
    const time = Date.now();
    const own = options?.id;
    // An id of its own sorts by when it was tracked: the time in ms in base 36 (8 characters until May 2059), then
    // 128 random bits (15 to 39 characters). The collector's id index then adds where it added last; random ids
    // (UUIDs) change a page of it for each event, and cost SQLite's writer 5 times the CPU once the store held
    // half a million events (BENCHMARKS.md, twenty-first stop). The time is the event's, which it carries anyway.
    const id = own && /^[\w.:-]{8,64}$/.test(own) ? own : time.toString(36) + uuid();
    // the debug log says why a site's id was not kept: its vendor pixel's deduplication depends on it
    if (DEBUG && own && id != own) log('id', own, 'is not 8-64 of A-Z a-z 0-9 _.:-, sent as', id);
    const event = clean({
      id,
      name,
      time,
      anonymousId: visitor,
      url: pageUrl(),
      referrer: document.referrer, // '' when there is none
      clickIds: clickIds(clicks, time, attribution),
      consent: stamp(),
      properties: { ...properties, cookies: cookies() },
    }) as TrackedEvent;
    enqueue({ e: event, o: tabId, p: decided ? 0 : 1 });
  } catch {
    ignore('error');
  }
};
